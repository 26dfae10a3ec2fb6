/* Unit tests for the sysbench 1.0 output parser (bench/sysbench.c), on outputs recorded from
 * sysbench 1.0.20 in the benchmark root filesystem (bookworm; make rootfs), run by chroot:
 *   sysbench cpu --cpu-max-prime=30000 --threads=1 --time=0 --events=200 run
 *   sysbench fileio --file-num=4 --file-total-size=16M --file-test-mode=rndrw
 *            --file-io-mode=sync --time=3 run                    (after the same prepare)
 *   sysbench oltp_read_write --mysql-socket=... --mysql-user=root --tables=1
 *            --table-size=10000 --threads=6 --time=5 --report-interval=0 run   (MariaDB 10.11) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "bench/sysbench.h"

static const char cpu_out[] = "sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)\n"
			      "\n"
			      "Running the test with following options:\n"
			      "Number of threads: 1\n"
			      "Initializing random number generator from current time\n"
			      "\n"
			      "\n"
			      "Prime numbers limit: 30000\n"
			      "\n"
			      "Initializing worker threads...\n"
			      "\n"
			      "Threads started!\n"
			      "\n"
			      "CPU speed:\n"
			      "    events per second:   401.39\n"
			      "\n"
			      "General statistics:\n"
			      "    total time:                          0.4965s\n"
			      "    total number of events:              200\n"
			      "\n"
			      "Latency (ms):\n"
			      "         min:                                    1.98\n"
			      "         avg:                                    2.48\n"
			      "         max:                                    8.93\n"
			      "         95th percentile:                        3.49\n"
			      "         sum:                                  495.29\n"
			      "\n"
			      "Threads fairness:\n"
			      "    events (avg/stddev):           200.0000/0.00\n"
			      "    execution time (avg/stddev):   0.4953/0.00\n"
			      "\n";

static const char fileio_out[] = "sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)\n"
				 "\n"
				 "Running the test with following options:\n"
				 "Number of threads: 1\n"
				 "Initializing random number generator from current time\n"
				 "\n"
				 "\n"
				 "Extra file open flags: (none)\n"
				 "4 files, 4MiB each\n"
				 "16MiB total file size\n"
				 "Block size 16KiB\n"
				 "Number of IO requests: 0\n"
				 "Read/Write ratio for combined random IO test: 1.50\n"
				 "Periodic FSYNC enabled, calling fsync() each 100 requests.\n"
				 "Calling fsync() at the end of test, Enabled.\n"
				 "Using synchronous I/O mode\n"
				 "Doing random r/w test\n"
				 "Initializing worker threads...\n"
				 "\n"
				 "Threads started!\n"
				 "\n"
				 "\n"
				 "File operations:\n"
				 "    reads/s:                      26666.13\n"
				 "    writes/s:                     17777.20\n"
				 "    fsyncs/s:                     1779.05\n"
				 "\n"
				 "Throughput:\n"
				 "    read, MiB/s:                  416.66\n"
				 "    written, MiB/s:               277.77\n"
				 "\n"
				 "General statistics:\n"
				 "    total time:                          3.0134s\n"
				 "    total number of events:              139361\n"
				 "\n"
				 "Latency (ms):\n"
				 "         min:                                    0.00\n"
				 "         avg:                                    0.02\n"
				 "         max:                                   41.36\n"
				 "         95th percentile:                        0.01\n"
				 "         sum:                                 2940.22\n"
				 "\n"
				 "Threads fairness:\n"
				 "    events (avg/stddev):           139361.0000/0.00\n"
				 "    execution time (avg/stddev):   2.9402/0.00\n"
				 "\n";

static const char oltp_out[] =
    "sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)\n"
    "\n"
    "Running the test with following options:\n"
    "Number of threads: 6\n"
    "Initializing random number generator from current time\n"
    "\n"
    "\n"
    "Initializing worker threads...\n"
    "\n"
    "Threads started!\n"
    "\n"
    "SQL statistics:\n"
    "    queries performed:\n"
    "        read:                            50736\n"
    "        write:                           14496\n"
    "        other:                           7248\n"
    "        total:                           72480\n"
    "    transactions:                        3624   (721.97 per sec.)\n"
    "    queries:                             72480  (14439.47 per sec.)\n"
    "    ignored errors:                      0      (0.00 per sec.)\n"
    "    reconnects:                          0      (0.00 per sec.)\n"
    "\n"
    "General statistics:\n"
    "    total time:                          5.0178s\n"
    "    total number of events:              3624\n"
    "\n"
    "Latency (ms):\n"
    "         min:                                    1.02\n"
    "         avg:                                    8.28\n"
    "         max:                                   81.01\n"
    "         95th percentile:                       14.46\n"
    "         sum:                                30016.13\n"
    "\n"
    "Threads fairness:\n"
    "    events (avg/stddev):           604.0000/20.07\n"
    "    execution time (avg/stddev):   5.0027/0.01\n"
    "\n";

/* what `sysbench fileio prepare` prints: no run results */
static const char prepare_out[] = "sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)\n"
				  "\n"
				  "4 files, 4096Kb each, 16Mb total\n"
				  "Creating files for the test...\n"
				  "Extra file open flags: (none)\n"
				  "Creating file test_file.0\n"
				  "Creating file test_file.1\n"
				  "Creating file test_file.2\n"
				  "Creating file test_file.3\n"
				  "16777216 bytes written in 0.05 seconds (351.04 MiB/sec).\n";

#define EPS 1e-9

/* One field the parse must give: its name, where it is in struct mb_sysbench, and its value
 * (NAN: the output has no such line, the field must be absent). */
struct field {
	const char *name;
	size_t off;
	double want;
};
#define FIELD(f, v) ((struct field){#f, offsetof(struct mb_sysbench, f), (v)})

/* Parse text, then check each of the n fields (within EPS, or absent); line: the caller's. */
static void expect_parse(const char *text, const struct field *fields, size_t n, int line)
{
	struct mb_sysbench s;
	mc_err err = NULL;
	if (mb_sysbench_parse(text, &s, &err) < 0)
		fail_msg("line %d: parse: %s", line, mc_error_text(err));
	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		double got;
		memcpy(&got, (const char *)&s + f->off, sizeof(got));
		if (isnan(f->want) ? !isnan(got) : !(fabs(got - f->want) <= EPS))
			fail_msg("line %d: %s = %.12g, want %.12g", line, f->name, got, f->want);
	}
}
#define EXPECT_PARSE(text, ...)                                                                    \
	do {                                                                                       \
		const struct field fields_[] = {__VA_ARGS__};                                      \
		expect_parse((text), fields_, sizeof(fields_) / sizeof(fields_[0]), __LINE__);     \
	} while (0)

static void cpu(void **state)
{
	(void)state;
	EXPECT_PARSE(cpu_out, FIELD(events_per_s, 401.39), FIELD(total_time_s, 0.4965),
		     FIELD(events, 200), FIELD(lat_min_ms, 1.98), FIELD(lat_avg_ms, 2.48),
		     FIELD(lat_max_ms, 8.93), FIELD(lat_p95_ms, 3.49), FIELD(lat_sum_ms, 495.29),
		     FIELD(reads_per_s, NAN), FIELD(transactions_per_s, NAN),
		     FIELD(queries_read, NAN));
}

static void fileio(void **state)
{
	(void)state;
	EXPECT_PARSE(fileio_out, FIELD(reads_per_s, 26666.13), FIELD(writes_per_s, 17777.20),
		     FIELD(fsyncs_per_s, 1779.05), FIELD(read_mib_per_s, 416.66),
		     FIELD(written_mib_per_s, 277.77), FIELD(total_time_s, 3.0134),
		     FIELD(events, 139361),
		     /* no "events per second" line: events / total time */
		     FIELD(events_per_s, 139361 / 3.0134), FIELD(lat_min_ms, 0.00),
		     FIELD(lat_avg_ms, 0.02), FIELD(lat_max_ms, 41.36), FIELD(lat_p95_ms, 0.01),
		     FIELD(queries_read, NAN), FIELD(transactions, NAN));
}

static void oltp(void **state)
{
	(void)state;
	EXPECT_PARSE(oltp_out, FIELD(queries_read, 50736), FIELD(queries_write, 14496),
		     FIELD(queries_other, 7248), FIELD(queries_total, 72480),
		     FIELD(transactions, 3624), FIELD(transactions_per_s, 721.97),
		     FIELD(queries, 72480), FIELD(queries_per_s, 14439.47),
		     FIELD(total_time_s, 5.0178), FIELD(events, 3624), FIELD(lat_min_ms, 1.02),
		     FIELD(lat_avg_ms, 8.28), FIELD(lat_max_ms, 81.01), FIELD(lat_p95_ms, 14.46),
		     /* fileio's "read, MiB/s" and the queries' "read:" are different keys */
		     FIELD(read_mib_per_s, NAN), FIELD(reads_per_s, NAN));
}

/* --percentile=0: no 95th percentile line, the rest is there */
static void no_percentile(void **state)
{
	(void)state;
	char text[sizeof(cpu_out)];
	const char *p95 = strstr(cpu_out, "         95th percentile:");
	assert_non_null(p95);
	const char *next = strchr(p95, '\n') + 1;
	size_t head = (size_t)(p95 - cpu_out);
	memcpy(text, cpu_out, head);
	strcpy(text + head, next);
	EXPECT_PARSE(text, FIELD(lat_p95_ms, NAN), FIELD(lat_max_ms, 8.93),
		     FIELD(lat_sum_ms, 495.29));
}

static void refused(void **state)
{
	(void)state;
	struct mb_sysbench s;
	mc_err err = NULL;
	assert_int_equal(mb_sysbench_parse(prepare_out, &s, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(mc_error_text(err), "total time"));
	mc_error_free(&err);
	assert_int_equal(mb_sysbench_parse("", &s, &err), -1);
	mc_error_free(&err);
	/* cut before the latency block: an interrupted run */
	char text[sizeof(cpu_out)];
	size_t head = (size_t)(strstr(cpu_out, "Latency (ms)") - cpu_out);
	memcpy(text, cpu_out, head);
	text[head] = 0;
	assert_int_equal(mb_sysbench_parse(text, &s, &err), -1);
	assert_non_null(strstr(mc_error_text(err), "latency"));
	mc_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cpu),	     cmocka_unit_test(fileio),	cmocka_unit_test(oltp),
	    cmocka_unit_test(no_percentile), cmocka_unit_test(refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
