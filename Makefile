# ramwipe — see README.md. `make demo` and `make test` install what they need
# (as root, on Debian) and may be run on a fresh machine.

# A Go new enough for go.mod, installed first if missing (tools/ensure-go);
# its directory goes first on PATH, for the tools that call go themselves.
GO        := $(shell tools/ensure-go)
export PATH := $(dir $(GO)):$(PATH)
BUILD     := build
LAB_CACHE ?= /var/cache/ramwipe-lab
GOFLAGS_REPRO := -trimpath -buildvcs=false -ldflags=-buildid=
LAB_DEPS  := qemu-system-x86 cpio aeskeyfind cryptsetup-bin e2fsprogs
DEB_DEPS  := build-essential debhelper dpkg-dev lintian cpio git
DESKTOP_DEPS := xvfb dbus-daemon dunst imagemagick librsvg2-common fonts-dejavu-core
VERSION   := $(shell dpkg-parsechangelog -S Version 2>/dev/null || sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)

.PHONY: all lab-deps deb-deps desktop-deps binaries initramfs install deb deb-check deb-check-trixie unit desktop-test fuzz lab lab-kernels fullsys fullsys-trixie fullsys-all peers-trixie bench demo test test-all soak soak-lab soak-fullsys clean

all: binaries initramfs

# Debian packages a target needs; installed only when missing.
define apt-ensure
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

lab-deps:
	$(call apt-ensure,$(LAB_DEPS))

deb-deps:
	$(call apt-ensure,$(DEB_DEPS))

desktop-deps:
	$(call apt-ensure,$(DESKTOP_DEPS))

# ramwiped, ramwipe, the desktop agent and the shutdown hook: static, reproducible.
binaries:
	@mkdir -p $(BUILD)/bin
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_REPRO) -ldflags="-buildid= -X main.version=$(VERSION)" -o $(BUILD)/bin/ ./cmd/ramwiped ./cmd/ramwipe ./cmd/ramwipe-notify ./cmd/ramwipe-shutdown

# The wipe image: a static /init in a reproducible cpio, and the kernel
# command line the loader passes with it.
initramfs:
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_REPRO) -o $(BUILD)/wipeinit ./initramfs/wipeinit
	$(GO) run ./initramfs/mkinitramfs -init $(BUILD)/wipeinit -o $(BUILD)/ramwipe-initramfs.cpio
	@echo "wrote $(BUILD)/ramwipe-initramfs.cpio and $(BUILD)/ramwipe-initramfs.cmdline"

# What the package installs, below DESTDIR (debian/rules calls this, with
# UNITDIR empty: dh_installsystemd installs, enables and starts the unit
# where the release's debhelper wants it).
UNITDIR ?= /usr/lib/systemd/system
install: binaries initramfs
	install -D -m 0755 $(BUILD)/bin/ramwiped $(DESTDIR)/usr/sbin/ramwiped
	install -D -m 0755 $(BUILD)/bin/ramwipe $(DESTDIR)/usr/bin/ramwipe
	install -D -m 0755 $(BUILD)/bin/ramwipe-notify $(DESTDIR)/usr/bin/ramwipe-notify
	install -D -m 0755 $(BUILD)/bin/ramwipe-shutdown $(DESTDIR)/usr/lib/systemd/system-shutdown/ramwipe
	install -D -m 0755 data/system-sleep-hook $(DESTDIR)/usr/lib/systemd/system-sleep/ramwipe
	install -D -m 0644 $(BUILD)/ramwipe-initramfs.cpio $(DESTDIR)/usr/lib/ramwipe/ramwipe-initramfs.cpio
	install -D -m 0644 $(BUILD)/ramwipe-initramfs.cmdline $(DESTDIR)/usr/lib/ramwipe/ramwipe-initramfs.cmdline
	[ -z "$(UNITDIR)" ] || install -D -m 0644 debian/ramwipe.ramwiped.service $(DESTDIR)$(UNITDIR)/ramwiped.service
	install -D -m 0644 debian/ramwipe.conf $(DESTDIR)/etc/ramwipe/ramwipe.conf
	install -D -m 0644 debian/sysusers.conf $(DESTDIR)/usr/lib/sysusers.d/ramwipe.conf
	install -D -m 0644 debian/ramwipe-panic.desktop $(DESTDIR)/usr/share/applications/ramwipe-panic.desktop
	install -D -m 0644 data/ramwipe.bash-completion $(DESTDIR)/usr/share/bash-completion/completions/ramwipe
	install -D -m 0644 debian/ramwipe-notify.desktop $(DESTDIR)/etc/xdg/autostart/ramwipe-notify.desktop
	install -D -m 0644 debian/ramwipe.svg $(DESTDIR)/usr/share/icons/hicolor/scalable/apps/ramwipe.svg
	install -D -m 0644 man/ramwipe.8 $(DESTDIR)/usr/share/man/man8/ramwipe.8
	install -D -m 0644 man/ramwipe-notify.1 $(DESTDIR)/usr/share/man/man1/ramwipe-notify.1
	install -D -m 0644 man/ramwiped.8 $(DESTDIR)/usr/share/man/man8/ramwiped.8
	install -D -m 0644 man/ramwipe.conf.5 $(DESTDIR)/usr/share/man/man5/ramwipe.conf.5

# The .deb, built from a copy of the source files git knows of (dpkg-buildpackage writes
# beside the source tree): build/ramwipe_$(VERSION)_amd64.deb, and
# build/ramwipe.deb pointing at it. The Go caches are passed in because dh
# gives the build a throw-away HOME.
deb: deb-deps
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/ramwipe-$(VERSION)
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(BUILD)/deb/ramwipe-$(VERSION)
	cd $(BUILD)/deb/ramwipe-$(VERSION) && \
		GOMODCACHE="$$($(GO) env GOMODCACHE)" GOCACHE="$$($(GO) env GOCACHE)" GOFLAGS=-mod=mod \
		dpkg-buildpackage -b -us -uc
	cp $(BUILD)/deb/ramwipe_$(VERSION)_amd64.deb $(BUILD)/
	ln -sf ramwipe_$(VERSION)_amd64.deb $(BUILD)/ramwipe.deb
	dpkg-deb -c $(BUILD)/ramwipe.deb

# lintian: no error, no warning.
deb-check: deb
	lintian --fail-on error,warning --display-info $(BUILD)/ramwipe_$(VERSION)_amd64.deb

# The .deb built in a Debian 13 (trixie) build root and checked by trixie's
# lintian (build/trixie/); the root is made once in LAB_CACHE.
deb-check-trixie:
	$(call apt-ensure,debootstrap)
	tools/deb-in-suite trixie $(LAB_CACHE) $(BUILD)/trixie

# Unit tests; the concurrent packages (the daemon, the triggers, the
# control socket, the desktop agent) once more under the race detector,
# which needs cgo and so gcc (build-essential, from deb-deps).
unit: deb-deps
	$(GO) vet ./...
	@test -z "$$(git ls-files -z --cached --others --exclude-standard '*.go' | xargs -0 gofmt -l | tee /dev/stderr)" || { echo "gofmt: files above are not formatted"; exit 1; }
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race ./cmd/ramwiped ./trigger/... ./desktop/...

# ramwipe-notify in a real desktop session: Xvfb, a session D-Bus, dunst, a
# fake ramwiped; the screenshot goes to docs/notify.png.
desktop-test: desktop-deps
	RAMWIPE_DESKTOP_TEST=1 RAMWIPE_DESKTOP_SHOT=$(CURDIR)/docs/notify.png $(GO) test -count=1 -run '^TestDesktopSession$$' ./cmd/ramwipe-notify

# Each fuzz target for a number of inputs (FUZZTIME=5m for a longer
# session). A count, not a duration, by default: Go 1.26's fuzzing
# coordinator can fail a target with "context deadline exceeded" when a
# duration ends while a worker is busy (golang/go#75804, fixed in Go 1.27),
# which CI saw on a loaded machine.
FUZZTIME ?= 100000x
fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./... | grep -E '^(Fuzz|ok)' | awk '/^Fuzz/{f=f" "$$1} /^ok/{for(i=split(f,a," ");i>0;i--) print $$2":"a[i]; f=""}'); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$pkg $$fn"; \
		$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

# The lab kernel: Debian's current one from this machine's apt, from another
# suite (LAB_SUITE=trixie), or your own (KERNEL=/boot/vmlinuz-$(uname -r),
# MODULES= if its modules are not in /lib/modules/RELEASE).
LAB_SUITE ?=
KERNEL    ?=
MODULES   ?=
LAB_KERNEL_DIR = $$(if [ -n '$(KERNEL)' ]; then qemu-tests/own-kernel.sh $(LAB_CACHE) '$(KERNEL)' '$(MODULES)'; else qemu-tests/fetch-kernel.sh $(LAB_CACHE) $(LAB_SUITE); fi)

LAB_OUT   ?= $(BUILD)/lab
lab: lab-deps initramfs
	$(GO) run ./qemu-tests/cmd/lab -kernel-dir "$(LAB_KERNEL_DIR)" -image $(BUILD)/ramwipe-initramfs.cpio -out $(LAB_OUT) $(LABFLAGS)

# The memory lab on bookworm's kernel (6.1) and on trixie's (6.12), side by
# side in build/lab-kernels.md; LABFLAGS chooses the scenarios for both.
lab-kernels: lab-deps initramfs
	$(MAKE) lab LAB_SUITE= LAB_OUT=$(BUILD)/lab-bookworm
	$(MAKE) lab LAB_SUITE=trixie LAB_OUT=$(BUILD)/lab-trixie
	$(GO) run ./qemu-tests/cmd/labcompare -o $(BUILD)/lab-kernels.md $(BUILD)/lab-bookworm/report.json $(BUILD)/lab-trixie/report.json
	@cat $(BUILD)/lab-kernels.md

# The memory lab's panic, SOAK_N times in a row (each a fresh guest and
# volume key): prints "N/N complete wipes" and writes build/soak-lab/soak.json.
SOAK_N ?= 30
soak-lab: lab-deps initramfs
	$(GO) run ./qemu-tests/cmd/lab -kernel-dir "$(LAB_KERNEL_DIR)" -image $(BUILD)/ramwipe-initramfs.cpio -out $(BUILD)/soak-lab -run /crypt-panic -repeat $(SOAK_N) -skip-idle $(LABFLAGS)

# The full-system lab: ramwipe's .deb on a Debian bookworm guest built with
# debootstrap (cached in LAB_CACHE until its recipe changes).
fullsys: lab-deps deb
	$(call apt-ensure,debootstrap)
	$(GO) run ./qemu-tests/cmd/fullsys -cache $(LAB_CACHE) -deb $(BUILD)/ramwipe.deb -out $(BUILD)/fullsys $(FULLSYSFLAGS)

# Every full-system scenario, the long ones too (kexec, sigkill, dracut).
fullsys-all: FULLSYSFLAGS += -all
fullsys-all: fullsys

# The full-system lab on a Debian 13 (trixie) guest (systemd 257, kernel 6.12).
fullsys-trixie: FULLSYSFLAGS += -suite trixie -out $(BUILD)/fullsys-trixie
fullsys-trixie: fullsys

# The peer table on Debian 13: in one run on the same trixie guest,
# ramwipe's poweroff (the shutdown hook), a plain poweroff (ramwipe.skip)
# and Kicksecure's ram-wipe design (init_on_alloc=1 init_on_free=1, its
# shutdown steps, no ramwipe); build/peers-trixie/report.json.
peers-trixie: FULLSYSFLAGS += -suite trixie -out $(BUILD)/peers-trixie -run poweroff,skip-negative-control,peer-kicksecure
peers-trixie: fullsys

# The soak: the poweroff through the shutdown hook SOAK_N times on the
# bookworm guest, about 2 minutes each under TCG; build/soak-fullsys/soak.json
# counts the complete wipes.
soak-fullsys: lab-deps deb
	$(call apt-ensure,debootstrap)
	$(GO) run ./qemu-tests/cmd/fullsys -cache $(LAB_CACHE) -deb $(BUILD)/ramwipe.deb -out $(BUILD)/soak-fullsys -soak $(SOAK_N) $(FULLSYSFLAGS)

# secure-delete's sdmem, the peer the benchmark compares with: unpacked
# from Debian's package once, never installed.
SDMEM := $(LAB_CACHE)/secure-delete/usr/bin/sdmem
$(SDMEM):
	mkdir -p $(LAB_CACHE)/secure-delete
	cd $(LAB_CACHE)/secure-delete && apt-get download secure-delete && dpkg-deb -x secure-delete_*.deb .

# The benchmark: the host benchmarks of the fill engine and the scanner,
# then one lab run of every benchmark scenario, then the report
# (build/bench/: host.json, bench.json, memory maps, performance.md, peers.png).
bench: lab-deps initramfs $(SDMEM)
	@mkdir -p $(BUILD)/bench
	$(GO) test -json -run '^$$' -bench . -benchtime 20x ./wipe/fill ./qemu-tests/lab > $(BUILD)/bench/host.json
	$(GO) run ./qemu-tests/cmd/lab -kernel-dir "$(LAB_KERNEL_DIR)" -image $(BUILD)/ramwipe-initramfs.cpio -out $(BUILD)/bench -bench -sdmem $(SDMEM) $(LABFLAGS)
	$(GO) run ./qemu-tests/cmd/bench -dir $(BUILD)/bench

# The main job: a Debian system with ramwipe installed and a LUKS2 volume
# open, canaries planted, the panic hotkey pressed, its RAM dumped, reported.
demo: lab-deps deb
	$(call apt-ensure,debootstrap)
	$(GO) run ./qemu-tests/cmd/fullsys -cache $(LAB_CACHE) -deb $(BUILD)/ramwipe.deb -out $(BUILD)/demo -run hotkey $(FULLSYSFLAGS)

# What CI runs (under 50 minutes on 2 cores): make test fuzzes every target
# briefly, so that a parser regression fails CI; the memory lab's judged
# scenarios at 512 MiB and 1 GiB with four of the fault matrix; the
# full-system lab's main scenarios on bookworm.
test: FUZZTIME = 10000x
test: unit desktop-test fuzz deb-check lab fullsys

# make test, and the longer matrices: the memory lab at every size with
# every measurement and the whole fault matrix, on bookworm's and trixie's
# kernels side by side; every full-system scenario (kexec, sigkill, the
# dracut image) on bookworm and trixie; trixie's lintian and systemd-analyze.
test-all: FUZZTIME = 10000x
test-all: unit desktop-test fuzz deb-check deb-check-trixie
	$(MAKE) lab-kernels LABFLAGS='-all $(LABFLAGS)'
	$(MAKE) fullsys-all
	$(MAKE) fullsys FULLSYSFLAGS='-all -suite trixie -out $(BUILD)/fullsys-trixie'
	$(MAKE) peers-trixie

# The soak: the memory lab's panic and the full-system poweroff through the
# shutdown hook, SOAK_N times each (default 30), N/N complete wipes each.
soak: soak-lab soak-fullsys

clean:
	rm -rf $(BUILD)
