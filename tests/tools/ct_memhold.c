/* ct_memhold MIB [DIR [RATE]]: a container workload for the checkpoint and migration tests and
 * benchmarks (docs/checkpoint.md): fills MIB MiB of anonymous memory with xorshift data (every
 * page touched, nothing compressible or zero), writes its FNV-1a checksum to DIR/sum1 (DIR
 * defaults to /tmp), then appends 1, 2, 3... to DIR/log every 20 ms; SIGUSR1 makes it checksum
 * the memory again into DIR/sum2. A restored or migrated copy must give the same sum and go on
 * counting from where it stopped. RATE (MiB/s, default 0: none) dirties the memory while it
 * counts: every 20 ms the next RATE/50 MiB of pages, round and round, get one word each written
 * back with the value it holds (the page is dirty for the kernel's tracking, the checksum stays;
 * the container twin of the test guest's `dirty MIB RATE MHZ`, for minibench migrate). Static,
 * no sanitizers (tests/tests.mk). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t again;

static void on_usr1(int s)
{
	(void)s;
	again = 1;
}

static uint64_t sum(const uint64_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static int put(const char *dir, const char *name, const char *fmt, unsigned long long v)
{
	char path[4096], tmp[4160];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *o = fopen(tmp, "w");
	if (!o)
		return -1;
	fprintf(o, fmt, v);
	if (fclose(o) != 0 || rename(tmp, path) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long mib = argc > 1 ? strtoul(argv[1], &end, 10) : 0;
	int bad = argc < 2 || argc > 4 || *end || mib > 65536;
	unsigned long rate = 0;
	if (!bad && argc > 3) {
		rate = strtoul(argv[3], &end, 10);
		bad = *end || !*argv[3] || rate > 65536;
	}
	if (bad) {
		fprintf(stderr, "usage: ct_memhold MIB [DIR [RATE]]\n");
		return 2;
	}
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	size_t n = (size_t)mib << 17; /* 8-byte words */
	uint64_t *p = n ? malloc(n * 8) : NULL, x = 88172645463325252ull;
	if (n && !p) {
		perror("ct_memhold: malloc");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = x;
	}
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	if (put(dir, "sum1", "%016llx\n", sum(p, n)) < 0) {
		perror("ct_memhold: sum1");
		return 1;
	}
	char log[4096];
	snprintf(log, sizeof(log), "%s/log", dir);
	/* the dirtying: pages per 20 ms tick, the next page's word index */
	size_t pages = n / 512, per_tick = (size_t)rate * 256 / 50, next = 0;
	for (unsigned long long i = 1;; i++) {
		for (size_t k = 0; pages && k < per_tick; k++) {
			volatile uint64_t *w = &p[next * 512];
			*w = *w;
			next = next + 1 == pages ? 0 : next + 1;
		}
		FILE *o = fopen(log, "a");
		if (o) {
			fprintf(o, "%llu\n", i);
			fclose(o);
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		while (nanosleep(&ts, &ts) < 0 && !again)
			;
		if (again) {
			again = 0;
			put(dir, "sum2", "%016llx\n", sum(p, n));
		}
	}
}
