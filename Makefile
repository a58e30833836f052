# starid — common tasks. The README's two commands are `bash scripts/setup.sh &&
# make demo` (install what the machine needs, then the main job) and `make test`;
# CI (.ci/run) runs the set-up and `make test`.

# Go sits in /usr/local/go on our machines, which is not on every PATH (CI,
# sudo); appending keeps a user's own Go first.
export PATH := $(PATH):/usr/local/go/bin

GO         ?= go
# The AVIF and HEIC decoders (internal/data) run as WebAssembly. Without this
# tag their packages would also try to load a system libavif or libheif, and
# link even a CGO_ENABLED=0 binary dynamically to be able to.
export GOFLAGS += -tags=nodynamic
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

# The commit goes in by -X as well: builds here run with -buildvcs=false,
# which leaves `starid version` without one.
build:
	$(GO) build -ldflags "-X main.commit=$$(git rev-parse --short HEAD 2>/dev/null)" -o bin/starid ./cmd/starid

# Default build (cgo, OpenBLAS) first, then everything again without cgo:
# the static binary runs starid's own GEMM kernels, and every golden file and
# PyTorch cross-check must hold for it too.
test: fmtcheck vet
	$(GO) test $(TESTFLAGS) -timeout $(TESTTIMEOUT) ./...
	CGO_ENABLED=0 $(GO) test $(TESTFLAGS) -timeout $(TESTTIMEOUT) ./...

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

# The main job on a built-in data set (no photos needed): generate coloured
# shapes, look at them, train the tutorial's best VGG variant from scratch,
# evaluate it on its test split and predict two images; then find, outline
# and landmark the faces in two of the face models' sample photos. Everything
# lands in out/demo (git-ignored); 84 s on 2 cores (README).
DEMO ?= out/demo
demo: build
	rm -rf $(DEMO)
	./bin/starid data synth $(DEMO)/shapes --classes 4 --per-class 60 --size 32
	./bin/starid data grid $(DEMO)/shapes --out $(DEMO)/grid.png --cols 4 --rows 1
	./bin/starid summary --model vgg16-bn-dropout-light --classes 4 --size 32
	./bin/starid train $(DEMO)/shapes --model vgg16-bn-dropout-light --size 32 --epochs 8 --batch 8 --out $(DEMO)/run
	./bin/starid eval $(DEMO)/run
	./bin/starid predict $(DEMO)/run $(DEMO)/shapes/circle/circle_000.png $(DEMO)/shapes/cross/cross_000.png
	./bin/starid faces $$(./bin/starid models path)/demo/sample1.jpg $$(./bin/starid models path)/demo/sample3.jpg --out $(DEMO)/faces
	@echo "demo outputs: $(DEMO)/grid.png, $(DEMO)/run/curves.png, $(DEMO)/run/confusion.png, $(DEMO)/run/train.log, $(DEMO)/faces/"

# Machine, Go, OpenBLAS and PyTorch versions, and the GEMM kernels starid and
# PyTorch's OpenBLAS run here (what CI logs and benchmark reports need to be
# read against). starid is built first: its kernels are its own answer.
info:
	@$(GO) build -o bin/starid ./cmd/starid
	@bash bench/compare.sh --info

clean:
	rm -rf bin
