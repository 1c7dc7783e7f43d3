# Appliance builder. `make image` on a fresh Debian 12 machine installs what
# it needs, builds the tools and bakes configs/single-node.yaml into out/.
# `make test` runs the whole suite, VM boot tests included.

SHELL := /bin/bash
GO ?= go
CONFIG ?= configs/single-node.yaml
OUTPUT ?= out/$(basename $(notdir $(CONFIG)))
BASE_TAR := out/base/debian-bookworm.tar
TESTASSETS := out/testassets
# Every file in the artifacts carries this time: the last commit's, so a
# rebuild of the same commit is byte-identical.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS_STATIC := -trimpath -ldflags "-s -w -buildid= -X github.com/ml-appliance/appliance/builder/cli.version=$(VERSION)"

# Debian packages the build and the tests run.
HOST_PACKAGES := squashfs-tools-ng squashfs-tools mmdebstrap e2fsprogs dosfstools mtools gdisk \
	qemu-system-x86 ovmf cpio zstd xorriso isolinux syslinux-common fdisk ca-certificates containerd kmod ipxe
# Any one of these missing means the host packages need installing.
HOST_COMMANDS := tar2sqfs unsquashfs mmdebstrap mkfs.ext4 e2fsck fsck.fat mcopy sgdisk \
	qemu-system-x86_64 cpio zstd containerd ctr depmod xorriso

.PHONY: all build image base deps testassets kube-testassets helm-controller-testassets test test-short fuzz bench lint clean

all: build

## deps: install the Debian packages the build and tests need (skipped when present)
deps:
	@missing=""; for c in $(HOST_COMMANDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ] || [ ! -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ ! -e /usr/lib/ipxe/ipxe.efi ] \
		|| [ ! -e /usr/lib/ISOLINUX/isolinux.bin ] || [ ! -e /usr/lib/syslinux/modules/bios/ldlinux.c32 ]; then \
		echo "installing host packages (missing:$$missing)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(HOST_PACKAGES); \
	fi

## build: bin/builder, bin/firstboot and bin/appliance-init (static)
build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_STATIC) -o bin/builder ./builder/cmd/builder
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_STATIC) -o bin/firstboot ./firstboot/cmd/firstboot
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_STATIC) -o bin/appliance-init ./firstboot/cmd/appliance-init

## base: the default base OS (Debian 12 + systemd + kernel) as a rootfs tarball, made once
base: $(BASE_TAR)
$(BASE_TAR): images/base/packages.txt images/base/build.sh
	$(SUDO) images/base/build.sh $@

## image: everything above, then bake $(CONFIG) into $(OUTPUT)
image: deps build base
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) bin/builder build --config $(CONFIG) --output $(OUTPUT)

## testassets: the real kernel package and base OS the boot tests use, and
## the kube-apiserver, etcd and helm-controller the client-go tests run against
testassets: $(TESTASSETS)/linux-image-cloud-amd64.deb $(TESTASSETS)/base-debian-bookworm.tar kube-testassets helm-controller-testassets
$(TESTASSETS)/linux-image-cloud-amd64.deb:
	mkdir -p $(TESTASSETS)
	.ci/fetch-kernel-deb.sh linux-image-cloud-amd64 $@
$(TESTASSETS)/base-debian-bookworm.tar: $(BASE_TAR)
	mkdir -p $(TESTASSETS)
	ln -sf ../base/debian-bookworm.tar $@
# Built from the nested module firstboot/kubetools (internal/kubetest runs
# them); the script skips the build (~10 min cold) when its stamp matches.
kube-testassets:
	GO=$(GO) firstboot/kubetools/build.sh $(TESTASSETS)/kube
# The real helm-controller of the pinned K3s release, built from the nested
# module internal/helmcontroller/tools (a few minutes cold, then skipped by stamp).
helm-controller-testassets:
	GO=$(GO) internal/helmcontroller/tools/build.sh $(TESTASSETS)/helm-controller

## test: the whole suite, VM boot tests included
test: deps testassets
	$(GO) vet ./...
	$(GO) test -timeout 50m ./...
	cd builder/imagestore/k3simport && $(GO) vet ./... && GO=$(GO) $(GO) test -timeout 20m ./...
	cd internal/helmcontroller/tools && $(GO) vet ./...
	$(MAKE) fuzz

## fuzz: each Go fuzz test for FUZZTIME inputs (their committed corpora,
## under testdata/fuzz/, also run as plain tests in `go test`)
FUZZTIME ?= 20000x
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz.sh

## test-short: unit tests only (no VM boots)
test-short:
	$(GO) test -short ./...

## bench: benchmarks (speed and memory targets)
# PAYLOAD_BENCH_BYTES sizes the payload of the first-boot images benchmark
# (K3s's import against pulling through the payload registry).
PAYLOAD_BENCH_BYTES ?= 5000000000
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
	cd builder/imagestore/k3simport && GO=$(GO) PAYLOAD_BENCH_BYTES=$(PAYLOAD_BENCH_BYTES) $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l builder firstboot internal)" || { gofmt -l builder firstboot internal; exit 1; }
	$(GO) vet ./...

clean:
	rm -rf bin out/single-node out/three-servers
