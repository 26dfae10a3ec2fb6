# Tiny freestanding test guests for minivm (tests/guests/guest.c): a PVH ELF and a bzImage.
# The PVH side is 32-bit code: compiled with -m32 to assembly and assembled under .code32 into
# a 64-bit object, so one x86-64 link makes the ELF64 image (as Linux's vmlinux is).
GUEST_DIR    := $(BUILD)/tests/guests
GUEST_CFLAGS := -std=gnu11 -O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-mgeneral-regs-only -fno-asynchronous-unwind-tables -Wall -Wextra -Werror
GUEST_LD     := ld -m elf_x86_64 -nostdlib -z noexecstack --no-warn-rwx-segments -T tests/guests/guest.ld
GUESTS       := $(GUEST_DIR)/pvh-guest.elf $(GUEST_DIR)/bz-guest.bin

$(GUEST_DIR)/%.32.o: tests/guests/%.c tests/guests/guest.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -m32 -S -o $(@:.o=.s) $<
	sed -i '1i .code32' $(@:.o=.s)
	as --64 -o $@ $(@:.o=.s)

$(GUEST_DIR)/%.64.o: tests/guests/%.c tests/guests/guest.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -m64 -mno-red-zone -mcmodel=small -c -o $@ $<

$(GUEST_DIR)/%_head.o: tests/guests/%_head.S
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ $<

$(GUEST_DIR)/pvh-guest.elf: $(GUEST_DIR)/pvh_head.o $(GUEST_DIR)/pvh_main.32.o \
		$(GUEST_DIR)/guest.32.o tests/guests/guest.ld
	$(GUEST_LD) --defsym LOAD_ADDR=0x100000 -e pvh_start -o $@ $(filter %.o,$^)

$(GUEST_DIR)/bz-payload.elf: $(GUEST_DIR)/bz_head.o $(GUEST_DIR)/bz_main.64.o \
		$(GUEST_DIR)/guest.64.o tests/guests/guest.ld
	$(GUEST_LD) --defsym LOAD_ADDR=0x1000000 -e bz_start64 -o $@ $(filter %.o,$^)

$(GUEST_DIR)/bz-guest.bin: tests/guests/bz_hdr.S $(GUEST_DIR)/bz-payload.elf
	$(CC) -c -o $(GUEST_DIR)/bz_hdr.o tests/guests/bz_hdr.S
	objcopy -O binary -j .data $(GUEST_DIR)/bz_hdr.o $(GUEST_DIR)/bz_hdr.bin
	objcopy -O binary -j .text -j .data $(GUEST_DIR)/bz-payload.elf $(GUEST_DIR)/bz-payload.bin
	cat $(GUEST_DIR)/bz_hdr.bin $(GUEST_DIR)/bz-payload.bin > $@

guests: $(GUESTS)
all: $(GUESTS)
test-bins: $(GUESTS)
.PHONY: guests
