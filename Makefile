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

.PHONY: all setup build test fmt fmtcheck vet bench compare demo default-model info clean

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

# The main job first: name every face in the face models' sample group
# photos with the built-in model (the tutorial's 17 stars; the people in
# the samples are not among them, so their faces should be "unknown"), and
# draw the names on them. Then enrolling: the largest face of one sample is
# enrolled under a name into a copy of the built-in model kept in
# $(DEMO)/default-run (never the user's own copy), and named in a
# mirrored, rescaled copy of that photo. Then the tutorial's training flow
# on a generated data set: coloured shapes, a sample grid, the model
# summary, the best VGG variant trained from scratch, evaluated, and used
# to predict two images. Everything lands in out/demo (git-ignored); time
# in the README. CI runs it too (.ci/run).
DEMO ?= out/demo
DEMOENV = STARID_DEFAULT_RUN=$(DEMO)/default-run
demo: build
	rm -rf $(DEMO)
	@echo "== 1/3 naming the faces in the sample photos with the built-in model (17 stars)"
	S=$$(./bin/starid models path)/demo && $(DEMOENV) ./bin/starid predict --top 1 --out $(DEMO)/named \
		$$S/sample1.jpg $$S/sample2.jpg $$S/sample3.jpg $$S/sample4.jpg $$S/sample5.jpg $$S/sample6.jpg
	@echo "== 2/3 enrolling the largest face of sample1.jpg (cut out: enroll refuses group photos) as \"Demo Person\", then naming it in a mirrored copy at 60% size"
	S=$$(./bin/starid models path)/demo && $(GO) run ./scripts/demo/mirror --scale 0.6 --face $(DEMO)/face.png \
		$$S/sample1.jpg $(DEMO)/mirrored.png && $(DEMOENV) ./bin/starid enroll "Demo Person" $(DEMO)/face.png
	$(DEMOENV) ./bin/starid predict --top 1 --out $(DEMO)/enrolled $(DEMO)/mirrored.png
	@echo "== 3/3 the tutorial's training flow on generated shapes"
	./bin/starid data synth $(DEMO)/shapes --classes 4 --per-class 60 --size 32
	./bin/starid data grid $(DEMO)/shapes --out $(DEMO)/grid.png --cols 4 --rows 1
	./bin/starid summary --model vgg16-bn-dropout-light --classes 4 --size 32
	./bin/starid train $(DEMO)/shapes --model vgg16-bn-dropout-light --size 32 --epochs 8 --batch 8 --out $(DEMO)/run
	./bin/starid eval $(DEMO)/run
	./bin/starid predict $(DEMO)/run $(DEMO)/shapes/circle/circle_000.png $(DEMO)/shapes/cross/cross_000.png
	@echo "demo pictures: $(DEMO)/named/ (names on the sample photos), $(DEMO)/enrolled/mirrored.png (the enrolled face named)," \
		"$(DEMO)/grid.png, $(DEMO)/run/curves.png, $(DEMO)/run/confusion.png; log: $(DEMO)/run/train.log"

# The built-in model (internal/recognize/defaultmodel): `train --model face`
# with its defaults on the tutorial's photos, reduced to what the binary
# embeds. Reproducible (fixed seed; descriptors through the cache); commit
# the two files it writes. PHOTOS is where the photos are.
PHOTOS ?= ../shared/data/celebrity17
default-model:
	$(GO) run ./scripts/defaultmodel --data $(PHOTOS) --out internal/recognize/defaultmodel

# Machine, Go, OpenBLAS and PyTorch versions, and the GEMM kernels starid and
# PyTorch's OpenBLAS run here (what CI logs and benchmark reports need to be
# read against). starid is built first: its kernels are its own answer.
info:
	@$(GO) build -o bin/starid ./cmd/starid
	@bash bench/compare.sh --info

clean:
	rm -rf bin
