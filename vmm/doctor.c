/* minivm doctor: what this host's /dev/kvm can do and what that means for minivm. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmds.h"
#include "util.h"

static bool cpu_flag(const char *cpuinfo, const char *flag)
{
	const char *p = strstr(cpuinfo, "\nflags");
	if (!p)
		return false;
	const char *end = strchr(p + 1, '\n');
	size_t fl = strlen(flag);
	for (const char *q = strstr(p, flag); q && (!end || q < end); q = strstr(q + 1, flag))
		if (q[-1] == ' ' && (q[fl] == ' ' || q[fl] == '\n'))
			return true;
	return false;
}

static const char *nested(const char *module)
{
	char path[128], *v = NULL;
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/nested", module);
	if (mc_read_file(path, 64, &v, NULL, NULL) < 0)
		return "unknown";
	bool on = v[0] == 'Y' || v[0] == '1';
	free(v);
	return on ? "on" : "off";
}

int cmd_doctor(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	_cleanup_free_ char *cpuinfo = NULL;
	mc_read_file("/proc/cpuinfo", 1 << 22, &cpuinfo, NULL, NULL);
	bool vmx = cpuinfo && cpu_flag(cpuinfo, "vmx"), svm = cpuinfo && cpu_flag(cpuinfo, "svm");
	bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	bool kintel = access("/sys/module/kvm_intel", F_OK) == 0;
	bool kamd = access("/sys/module/kvm_amd", F_OK) == 0;
	bool in_vm = cpuinfo && cpu_flag(cpuinfo, "hypervisor");

	printf("cpu: %s%s\n",
	       vmx   ? "Intel VT-x"
	       : svm ? "AMD-V (SVM)"
		     : "no VT-x/AMD-V flag",
	       in_vm ? " (running under a hypervisor)" : "");
	_cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("/dev/kvm: %s\n", errno == ENOENT   ? "missing (no KVM module loaded)"
					 : errno == EACCES ? "no permission (join the kvm group)"
							   : strerror(errno));
		printf("verdict: minivm cannot run VMs here; the lab (build/bin/minilab, "
		       "docs/lab.md) runs them under QEMU TCG, which needs no KVM\n");
		return 1;
	}
	const char *kind = pvm	    ? "PVM (kvm_pvm: software virtualization, guest kernel code "
				      "interpreted)"
			   : kintel ? "hardware, Intel VT-x (kvm_intel)"
			   : kamd   ? "hardware, AMD-V (kvm_amd)"
				    : "unknown provider";
	printf("/dev/kvm: %s, API version %d\n", kind, ioctl(fd, KVM_GET_API_VERSION, 0));
	if (kintel)
		printf("nested virtualization (kvm_intel): %s\n", nested("kvm_intel"));
	if (kamd)
		printf("nested virtualization (kvm_amd): %s\n", nested("kvm_amd"));
	static const struct {
		long cap;
		const char *name, *use;
	} caps[] = {
	    {KVM_CAP_IRQCHIP, "IRQCHIP", "in-kernel LAPIC/IOAPIC/PIC (required)"},
	    {KVM_CAP_PIT2, "PIT2", "in-kernel PIT (for --pit)"},
	    {KVM_CAP_USER_MEMORY, "USER_MEMORY", "guest RAM slots (required)"},
	    {KVM_CAP_EXT_CPUID, "EXT_CPUID", "KVM_GET_SUPPORTED_CPUID (required)"},
	    {KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT", "race-free vCPU stop (required)"},
	    {KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR", "Intel TSS area (used when present)"},
	    {KVM_CAP_MAX_VCPUS, "MAX_VCPUS", "vCPU limit"},
	    {KVM_CAP_IOEVENTFD, "IOEVENTFD", "virtio notifications (later devices)"},
	    {KVM_CAP_IRQFD, "IRQFD", "virtio interrupts (later devices)"},
	    {KVM_CAP_TSC_CONTROL, "TSC_CONTROL", "TSC frequency control"},
	};
	bool ok = true;
	for (size_t i = 0; i < MC_ARRAY_SIZE(caps); i++) {
		int r = ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap);
		if (r <= 0 && strstr(caps[i].use, "required"))
			ok = false;
		printf("  KVM_CAP_%-15s %-4s %s\n", caps[i].name,
		       r > 0 ? (caps[i].cap == KVM_CAP_MAX_VCPUS ? "" : "yes") : "no", caps[i].use);
		if (r > 0 && caps[i].cap == KVM_CAP_MAX_VCPUS)
			printf("    (%d)\n", r);
	}
	if (!ok)
		printf("verdict: this KVM lacks what minivm needs\n");
	else if (pvm)
		printf("verdict: minivm runs small freestanding guests here, but unmodified Linux "
		       "kernels cannot boot on PVM (it interprets guest kernel code and lacks "
		       "cmpxchg16b, xsave/xrstor, int3): boot them in the lab, e.g.\n"
		       "  build/bin/minilab run -- build/bin/minivm run --kernel ... "
		       "(see docs/lab.md)\n");
	else if (!vmx && !svm && !kintel && !kamd)
		printf("verdict: unknown KVM provider; minivm will try\n");
	else
		printf("verdict: hardware virtualization; minivm boots stock kernels here\n");
	return ok ? 0 : 1;
}
