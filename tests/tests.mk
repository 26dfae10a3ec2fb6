# Unit tests: tests/unit/<component>_<name>.c, linked against lib<component>.a, libmini and
# cmocka. tests/unit/lib_<name>.c links libmini only.
# Helpers shared by unit tests: a tests/unit/<name>.c with a <name>.h beside it is not a test
# but goes into libunit.a, which every unit test links ahead of its component's library (only
# the tests that call a helper pull it in); helpers are compiled with every component's flags.
UNIT_HELPER_SRCS := $(filter $(wildcard tests/unit/*.c),$(patsubst %.h,%.c,$(wildcard tests/unit/*.h)))
UNIT_HELPER_OBJS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/%.o)
UNIT_LIB  := $(if $(UNIT_HELPER_SRCS),$(BUILD)/tests/unit/libunit.a)
UNIT_SRCS := $(filter-out $(UNIT_HELPER_SRCS),$(wildcard tests/unit/*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

$(UNIT_HELPER_OBJS): CFLAGS += $(foreach c,$(COMPONENTS),$(CFLAGS_$(PROG_$(c))))
$(BUILD)/tests/unit/libunit.a: $(UNIT_HELPER_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define unit_test
$$(BUILD)/tests/unit/$(1): $$(BUILD)/tests/unit/$(1).o $$(UNIT_LIB) $$(if $$(filter lib,$(2)),,$$($(2)_LIB)) $$(LIBMINI)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ -lcmocka $$(LIBS_$$(PROG_$(2)))
endef
$(foreach t,$(UNIT_SRCS:tests/unit/%.c=%),$(eval $(call unit_test,$(t),$(firstword $(subst _, ,$(t))))))

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_$(PROG_$(firstword $(subst _, ,$*)))) -I. -c $< -o $@

test-bins: $(UNIT_BINS)
.PHONY: test-bins

# Small test programs: tests/tools/<name>.c -> $(BUILD)/tests/tools/<name>
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)
$(BUILD)/tests/tools/%: tests/tools/%.c $(wildcard tests/tools/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
test-bins: $(TOOL_BINS)

# libFuzzer targets: tests/fuzz/<component>_<name>.c, built by clang with the component's
# library sources and lib/ (all instrumented). `make fuzz`; tests/host/fuzz.sh runs each briefly.
# A component's sources are compiled once into build/fuzz/obj/<component>/ and linked into each
# of its targets (vmm has five: one compile of vmm/ instead of five).
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_COMPONENTS := $(sort $(foreach t,$(FUZZ_SRCS:tests/fuzz/%.c=%),$(firstword $(subst _, ,$(t)))))
# the sources a component's program links besides its own (minict: the CRIU RPC client)
FUZZ_SRCS_runtime := $(wildcard criu-glue/*.c) build/criu-glue/gen/rpc.pb-c.c
FUZZ_CFLAGS_runtime := -Ibuild/criu-glue/gen
FUZZ_DEPS_runtime := build/criu-glue/gen/rpc.pb-c.h
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Ilib -I. $(NL_CFLAGS) -fno-sanitize-recover=undefined
define fuzz_component
FUZZ_OBJS_$(1) := $$(patsubst %.c,build/fuzz/obj/$(1)/%.o,$$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c $(1)/*/*.c)) $$(FUZZ_SRCS_$(1)) $$(LIB_SRCS))
build/fuzz/obj/$(1)/%.o: %.c $$(wildcard $(1)/*.h $(1)/*/*.h lib/*.h) $$(FUZZ_DEPS_$(1))
	@mkdir -p $$(dir $$@)
	clang $$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -I$(1) $$(CFLAGS_$$(PROG_$(1))) $$(FUZZ_CFLAGS_$(1)) -c -o $$@ $$<
endef
$(foreach c,$(FUZZ_COMPONENTS),$(eval $(call fuzz_component,$(c))))
define fuzz_target
build/fuzz/$(1): tests/fuzz/$(1).c $$(FUZZ_OBJS_$(2)) $$(wildcard $(2)/*.h $(2)/*/*.h lib/*.h) $$(FUZZ_DEPS_$(2))
	@mkdir -p $$(dir $$@)
	clang $$(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -I$(2) $$(CFLAGS_$$(PROG_$(2))) $$(FUZZ_CFLAGS_$(2)) -o $$@ $$< $$(FUZZ_OBJS_$(2)) $$(LIBS_$$(PROG_$(2))) $$(NL_LIBS)
endef
$(foreach t,$(FUZZ_SRCS:tests/fuzz/%.c=%),$(eval $(call fuzz_target,$(t),$(firstword $(subst _, ,$(t))))))
fuzz: $(FUZZ_BINS)
.PHONY: fuzz
-include tests/guests/guests.mk

# ct_probe runs inside containers (the OCI conformance tests copy it into a busybox rootfs):
# static, never sanitized, whatever SAN says. This explicit rule wins over the tools pattern.
CT_PROBE_CFLAGS := -std=gnu11 -O2 $(WARN)
$(BUILD)/tests/tools/ct_probe: tests/tools/ct_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(CT_PROBE_CFLAGS) -static -o $@ $<

# The migration observer, the container's UDP echo and memory holder (docs/checkpoint.md
# "Migration"): static, never sanitized, like ct_probe; the observer is the VM migration's too.
$(BUILD)/tests/tools/udp_echo $(BUILD)/tests/tools/udp_observer $(BUILD)/tests/tools/ct_memhold: $(BUILD)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CT_PROBE_CFLAGS) -static -o $@ $<

# netdev_ctl drives lib/netdev.h one call at a time for tests/host/lib_netdev.sh: it links
# libmini and libnl, so it has its own rule (this explicit one wins over the tools pattern).
$(BUILD)/tests/tools/netdev_ctl: tests/tools/netdev_ctl.c $(LIBMINI)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBMINI) $(NL_LIBS)
