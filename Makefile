# starid — common tasks. The README's two commands are `make setup` (install
# what the machine needs) and `make test`; CI (.ci/run) runs exactly those.

# Go sits in /usr/local/go on our machines, which is not on every PATH (CI,
# sudo); appending keeps a user's own Go first.
export PATH := $(PATH):/usr/local/go/bin

GO         ?= go
# Whole-run limit per test binary: a hung test fails CI with a stack dump
# instead of eating the job's 90 minutes.
TESTTIMEOUT ?= 10m
# CI runs on a machine that may hold a developer's test cache; a cached pass
# there would prove nothing about the submitted tree, so CI always reruns.
TESTFLAGS  ?= $(if $(filter true,$(CI)),-count=1)
# Benchmarks: short by default so `make bench` is a quick smoke run; use
# `make bench BENCHTIME=3s BENCH=Conv` for numbers worth quoting.
BENCH      ?= .
BENCHTIME  ?= 200ms
BENCHPKGS  ?= ./internal/...
COMPARE_ARGS ?=
# Tracked and new (not ignored) Go files: what gofmt must leave unchanged.
GOFILES = $(shell git ls-files -co --exclude-standard '*.go' 2>/dev/null)

.PHONY: all setup build test fmt fmtcheck vet bench compare demo info clean

all: build

setup:
	bash scripts/setup.sh

build:
	$(GO) build -o bin/starid ./cmd/starid

# Default build (cgo, OpenBLAS) first, then the tensor package again without
# cgo, so the pure-Go GEMM that a cgo-less build falls back to is proven too.
test: fmtcheck vet
	$(GO) test $(TESTFLAGS) -timeout $(TESTTIMEOUT) ./...
	CGO_ENABLED=0 $(GO) test $(TESTFLAGS) -timeout $(TESTTIMEOUT) ./internal/tensor/...

fmt:
	gofmt -w $(GOFILES)

# Fails listing the files gofmt would change; `make fmt` fixes them.
fmtcheck:
	@out=$$(gofmt -l $(GOFILES) </dev/null); \
	if [ -n "$$out" ]; then echo "gofmt would change (run make fmt):"; echo "$$out"; exit 1; fi

# The pure-Go files only compile with cgo off, so they are vetted that way too.
vet:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./internal/tensor/...

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) $(BENCHPKGS)

# starid against PyTorch on the same machine, interleaved; see bench/README.md.
compare:
	bash bench/compare.sh $(COMPARE_ARGS)

# The main job on built-in defaults, until the training workflow lands: the
# tutorial's best model described layer by layer, then one timed training
# step on random 64x64 images (forward, backward, Adam).
demo: build
	./bin/starid summary --model vgg16-bn-dropout-light --classes 17 --size 224
	./bin/starid bench --model vgg16-bn-dropout-light --size 64 --batch 8 --steps 2

# Machine, Go, OpenBLAS and PyTorch versions (what CI logs and benchmark
# reports need to be read against).
info:
	@bash bench/compare.sh --info

clean:
	rm -rf bin
