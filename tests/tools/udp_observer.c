/* udp_observer ADDR PORT SECONDS: the migration observer, one program for containers and VMs
 * (/work/shared/DESIGN.md "Migration, one method for both"). Sends a numbered UDP probe every
 * 1 ms to ADDR:PORT (an echo server) for at most SECONDS, records when each reply arrives, and
 * on exit (SECONDS passed, SIGTERM or SIGINT) prints one JSON object:
 *   sent, replies, lost          probes sent, answered (each once), not answered
 *   start_ms                     when SIGUSR1 came (the start signal: "migrate now"), from the
 *                                observer's own start; null without one
 *   downtime_ms                  the largest gap between two consecutive replies, the later
 *                                one after the start signal (without one: over the whole run)
 *   total_ms                     from the start signal to the first reply after that gap
 *   gap_start_ms, gap_end_ms     the gap's replies, from the observer's start
 *   gap_start_epoch, gap_end_epoch  the same as CLOCK_REALTIME seconds (to line them up with
 *                                other programs' logs)
 *   send_gap_ms                  the largest interval between two probes sent after the start
 *                                signal: over ~1 ms the observer itself was late (not scheduled),
 *                                and a gap in the replies may be its own
 * A reply's arrival is the kernel's receive timestamp (SO_TIMESTAMPNS), not when the observer
 * read it: a late observer does not squeeze the replies it reads late together.
 * On stderr, for a test waiting on it: "first reply", then "reply after a gap of X ms" for
 * each gap over 10 ms after the start signal.
 * Probes: 8 bytes, the sequence number (little-endian); a reply is any datagram from ADDR:PORT
 * whose first 8 bytes are a sequence number sent. Static, no sanitizers (tests/tests.mk). */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t started, stop;
static struct timespec start_ts;

static void on_signal(int sig)
{
	if (sig == SIGUSR1) {
		if (!started)
			clock_gettime(CLOCK_MONOTONIC, &start_ts);
		started = 1;
	} else {
		stop = 1;
	}
}

static int64_t ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ns_of(&ts);
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ns_of(&ts);
}

/* One datagram into buf; *at its kernel receive time on the monotonic clock (real_off: realtime
 * minus monotonic), or now when the kernel gave none. */
static ssize_t recv_stamped(int fd, void *buf, size_t len, struct sockaddr_in *from,
			    int64_t real_off, int64_t *at)
{
	char ctl[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_name = from,
			   .msg_namelen = sizeof(*from),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl,
			   .msg_controllen = sizeof(ctl)};
	ssize_t n = recvmsg(fd, &m, 0);
	*at = now_ns();
	if (n < 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			int64_t k = ns_of(&ts) - real_off;
			if (k <= *at) /* a stamp from the future: the clock stepped, keep now */
				*at = k;
		}
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: udp_observer ADDR PORT SECONDS\n");
		return 2;
	}
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	long secs = atol(argv[3]);
	if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || !to.sin_port || secs < 1 ||
	    secs > 3600) {
		fprintf(stderr, "udp_observer: bad ADDR, PORT or SECONDS (1..3600)\n");
		return 2;
	}
	size_t max = (size_t)secs * 1000 + 16;
	int64_t *arrival = calloc(max, sizeof(*arrival)); /* per reply, in arrival order */
	uint8_t *got = calloc(max, 1);			  /* per sequence number */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
	if (!arrival || !got || fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
		perror("udp_observer");
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	int64_t t0 = now_ns(), next = t0, real_off = real_ns() - t0, last_send = 0, send_gap = 0;
	uint64_t sent = 0, replies = 0;
	while (!stop && sent < max - 16 && now_ns() - t0 < (int64_t)secs * 1000000000) {
		int64_t t = now_ns();
		if (t >= next) {
			uint64_t seq = htole64(sent);
			if (sendto(fd, &seq, sizeof(seq), 0, (struct sockaddr *)&to, sizeof(to)) <
				0 &&
			    errno != EAGAIN && errno != ENETUNREACH && errno != EHOSTUNREACH &&
			    errno != ECONNREFUSED && errno != EINTR)
				perror("udp_observer: send");
			sent++;
			if (started && last_send && t - last_send > send_gap)
				send_gap = t - last_send;
			last_send = t;
			next += 1000000;
			if (next < t)
				next = t + 1000000; /* late: no burst to catch up */
			continue;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int wait_ms = (int)((next - t + 999999) / 1000000);
		if (poll(&p, 1, wait_ms) <= 0)
			continue;
		for (;;) {
			uint8_t buf[64];
			struct sockaddr_in from;
			int64_t at;
			ssize_t n = recv_stamped(fd, buf, sizeof(buf), &from, real_off, &at);
			if (n < 0)
				break;
			uint64_t seq;
			if (n < 8 || from.sin_addr.s_addr != to.sin_addr.s_addr ||
			    from.sin_port != to.sin_port)
				continue;
			memcpy(&seq, buf, 8);
			seq = le64toh(seq);
			if (seq >= sent || got[seq])
				continue;
			got[seq] = 1;
			/* progress for a waiting test: the first reply, a reply after a gap */
			if (!replies)
				fprintf(stderr, "udp_observer: first reply\n");
			else if (started && at - arrival[replies - 1] > 10000000)
				fprintf(stderr, "udp_observer: reply after a gap of %.1f ms\n",
					(at - arrival[replies - 1]) / 1e6);
			arrival[replies++] = at;
		}
	}
	int64_t start = started ? ns_of(&start_ts) : t0;
	int64_t gap = -1, gap_a = 0, gap_b = 0;
	for (uint64_t i = 1; i < replies; i++) {
		if (arrival[i] < start)
			continue;
		if (arrival[i] - arrival[i - 1] > gap) {
			gap = arrival[i] - arrival[i - 1];
			gap_a = arrival[i - 1];
			gap_b = arrival[i];
		}
	}
	printf("{\"sent\":%llu,\"replies\":%llu,\"lost\":%llu,", (unsigned long long)sent,
	       (unsigned long long)replies, (unsigned long long)(sent - replies));
	if (started)
		printf("\"start_ms\":%.3f,", (start - t0) / 1e6);
	else
		printf("\"start_ms\":null,");
	printf("\"send_gap_ms\":%.3f,", send_gap / 1e6);
	if (gap >= 0)
		printf("\"downtime_ms\":%.3f,\"total_ms\":%.3f,\"gap_start_ms\":%.3f,"
		       "\"gap_end_ms\":%.3f,\"gap_start_epoch\":%.6f,\"gap_end_epoch\":%.6f}\n",
		       gap / 1e6, started ? (gap_b - start) / 1e6 : (gap_b - t0) / 1e6,
		       (gap_a - t0) / 1e6, (gap_b - t0) / 1e6, (gap_a + real_off) / 1e9,
		       (gap_b + real_off) / 1e9);
	else
		printf("\"downtime_ms\":null,\"total_ms\":null,\"gap_start_ms\":null,"
		       "\"gap_end_ms\":null,\"gap_start_epoch\":null,\"gap_end_epoch\":null}\n");
	return 0;
}
