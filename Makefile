# minivm / minict / minibench / minilab — one non-recursive Makefile.
#
#   make            build everything into build/bin/
#   make test       build with ASan+UBSan (build/san/) and run every test (installs what it needs)
#   make demo       the main job end to end on a fresh machine
#   make deps       install the Debian packages we need (idempotent)
#   make images     guest kernel + initramfs + benchmark rootfs, cached in $(MINI_CACHE)
#                   (KERNEL=PATH: another kernel's .deb(s) or tree; ROOTFS=0: no rootfs)
#   make rootfs     the benchmark root filesystem only (docs/images.md)
#   make lab        the nested-KVM lab image (see docs/lab.md)
#
# Each component is a folder; its main.c holds main() and every other .c goes into a
# static library that unit tests link against. New files need no Makefile edit.

SHELL      := /bin/bash
CC         ?= gcc
BUILD      ?= build
SAN        ?= 0
MINI_CACHE ?= /var/cache/minivm
export MINI_CACHE

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
# lib/netdev.c (host links, bridges, veths through libnl-3) is in libmini: every program and
# test that includes lib/ headers sees libnl's, and the ones that set up networks link it.
NL_CFLAGS := $(shell pkg-config --cflags libnl-3.0 2>/dev/null)
NL_LIBS   := -lnl-route-3 -lnl-3
CFLAGS   += -std=gnu11 $(WARN) -D_GNU_SOURCE -Ilib $(NL_CFLAGS) -MMD -MP -fno-strict-aliasing
LDFLAGS  ?=
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

BIN := $(BUILD)/bin

# Libraries per program (only what each one needs).
# minivm's libraries are linked in (libc stays shared): the dynamic loader's work for five
# libraries was ~0.3-0.6 ms of every start and restore (docs/snapshot.md, "Measured").
LIBS_minivm    := -lpthread -Wl,-Bstatic -lz -ljson-c $(NL_LIBS) -luring -Wl,-Bdynamic
LIBS_minict    := -lseccomp -lcap $(NL_LIBS) -ljson-c -lprotobuf-c
LIBS_minilab   := -lpthread
LIBS_minibench := -lm -ljson-c
CFLAGS_minict  := -Icriu-glue
# minivm's sub-folders (vmm/boot/, vmm/hw/) include the core's headers by their plain names.
CFLAGS_minivm  := -Ivmm
# Component libraries a program links besides its own (between it and libmini).
ALIBS_minict   := $(BUILD)/criu-glue/libcriu-glue.a
# component dir -> program name
PROG_vmm     := minivm
PROG_runtime := minict
PROG_lab     := minilab
PROG_bench   := minibench
COMPONENTS   := vmm runtime lab bench criu-glue

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBMINI  := $(BUILD)/lib/libmini.a

all: $(LIBMINI)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_$(PROG_$(firstword $(subst /, ,$*)))) -c $< -o $@

$(LIBMINI): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# One program per component folder that has a main.c; the .c files of its sub-folders (one
# level, e.g. vmm/hw/) join its library.
define component
$(1)_SRCS := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c $(1)/*/*.c))
$(1)_OBJS := $$($(1)_SRCS:%.c=$$(BUILD)/%.o)
$(1)_LIB  := $$(BUILD)/$(1)/lib$(1).a
$$($(1)_LIB): $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^ $$(if $$^,,)
ifneq ($$(wildcard $(1)/main.c),)
$$(BIN)/$$(PROG_$(1)): $$(BUILD)/$(1)/main.o $$($(1)_LIB) $$(ALIBS_$$(PROG_$(1))) $$(LIBMINI)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS_$$(PROG_$(1)))
all: $$(BIN)/$$(PROG_$(1))
endif
endef
$(foreach c,$(COMPONENTS),$(eval $(call component,$(c))))

# criu-glue/: minict's CRIU RPC client (docs/checkpoint.md). rpc.pb-c.[ch] are generated at
# build time from criu-glue/rpc.proto (CRIU 4.1.1's images/rpc.proto) with Debian's protoc-c.
GLUE_GEN := $(BUILD)/criu-glue/gen
$(GLUE_GEN)/rpc.pb-c.c $(GLUE_GEN)/rpc.pb-c.h &: criu-glue/rpc.proto
	@mkdir -p $(GLUE_GEN)
	protoc-c --proto_path=criu-glue --c_out=$(GLUE_GEN) $<
$(GLUE_GEN)/rpc.pb-c.o: $(GLUE_GEN)/rpc.pb-c.c
	$(CC) $(CFLAGS) -I$(GLUE_GEN) -c $< -o $@
$(criu-glue_OBJS): CFLAGS += -I$(GLUE_GEN)
$(criu-glue_OBJS): $(GLUE_GEN)/rpc.pb-c.h
$(criu-glue_LIB): $(GLUE_GEN)/rpc.pb-c.o

# guestinit runs as PID 1 in the guest initramfs: static, no sanitizers.
GUESTINIT_SRCS := $(wildcard guestinit/*.c)
ifneq ($(GUESTINIT_SRCS),)
$(BIN)/guestinit: $(GUESTINIT_SRCS) $(wildcard guestinit/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -D_GNU_SOURCE -static -o $@ $(GUESTINIT_SRCS)
all: $(BIN)/guestinit
endif

-include tests/tests.mk
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- set-up, images, lab -------------------------------------------------------------------

deps:
	@scripts/deps.sh
	@scripts/criu.sh ensure --if-reachable >/dev/null

images: deps all
	@KERNEL="$(KERNEL)" ROOTFS="$(ROOTFS)" scripts/images.sh build

rootfs: deps
	@scripts/rootfs.sh build >/dev/null

images-env:
	@scripts/images.sh env

lab: images
	@scripts/lab-image.sh

demo: deps
	@$(MAKE) -s --no-print-directory all
	@scripts/demo.sh

# ---- tests ---------------------------------------------------------------------------------

# The two builds with a job per core (`make test` is run without -j, by CI too; a clean clone's
# two builds took ~2.5 min one file at a time).
test: deps
	@$(MAKE) -s --no-print-directory -j$(shell nproc) all
	@$(MAKE) -s --no-print-directory images
	@$(MAKE) -s --no-print-directory -j$(shell nproc) SAN=1 BUILD=build/san all test-bins
	@$(MAKE) -s --no-print-directory lab
	@scripts/run-tests.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

tidy:
	clang-tidy --quiet $(FILES) -- -std=gnu11 -D_GNU_SOURCE -Ilib -I. $(NL_CFLAGS) $(CFLAGS_minict)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 \
		--suppress=missingIncludeSystem -Ilib $$(git ls-files '*.c')

clean:
	rm -rf build

FILES ?= $(shell git ls-files "*.c")
.PHONY: all deps images images-env rootfs lab demo test format check-format lint tidy clean
