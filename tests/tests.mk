# Unit tests: tests/unit/<component>_<name>.c, linked against lib<component>.a, libmini and
# cmocka. tests/unit/lib_<name>.c links libmini only.
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

define unit_test
$$(BUILD)/tests/unit/$(1): $$(BUILD)/tests/unit/$(1).o $$(if $$(filter lib,$(2)),,$$($(2)_LIB)) $$(LIBMINI)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ -lcmocka $$(LIBS_$$(PROG_$(2)))
endef
$(foreach t,$(UNIT_SRCS:tests/unit/%.c=%),$(eval $(call unit_test,$(t),$(firstword $(subst _, ,$(t))))))

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I. -c $< -o $@

test-bins: $(UNIT_BINS)
.PHONY: test-bins

# Small test programs: tests/tools/<name>.c -> $(BUILD)/tests/tools/<name>
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)
$(BUILD)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
test-bins: $(TOOL_BINS)
