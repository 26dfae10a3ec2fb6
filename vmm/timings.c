#include "timings.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static uint64_t mc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t t0;
static uint64_t marks[MS_COUNT]; /* 0: not yet */
static const char *const names[MS_COUNT] = {"start", "setup", "entry", "init",
					    "ready", "exit",  "gone"};

void timings_start(void)
{
	t0 = mc_now_ns();
	marks[MS_START] = t0;
}

void timings_mark(enum milestone m)
{
	uint64_t expected = 0;
	__atomic_compare_exchange_n(&marks[m], &expected, mc_now_ns(), false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
}

double timings_ms(enum milestone m)
{
	uint64_t v = __atomic_load_n(&marks[m], __ATOMIC_RELAXED);
	if (!v)
		return -1;
	return (double)(v - t0) / 1e6;
}

void timings_print_json(FILE *f, const char *end_reason, int status)
{
	json_c_set_serialization_double_format("%.3f", JSON_C_OPTION_THREAD);
	json_object *o = json_object_new_object();
	for (int i = 0; i < MS_COUNT; i++) {
		double ms = timings_ms((enum milestone)i);
		json_object_object_add(o, names[i], ms < 0 ? NULL : json_object_new_double(ms));
	}
	json_object_object_add(o, "end", json_object_new_string(end_reason));
	json_object_object_add(o, "status", json_object_new_int(status));
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}
