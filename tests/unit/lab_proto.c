/* Unit tests for the lab's frame protocol (lab/proto.c): round trips, limits, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "lab/proto.h"

static void round_trip(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(lab_send_str(sv[0], LAB_ARG, "hello"), 0);
	assert_int_equal(lab_send_u32(sv[0], LAB_EXIT, 300), 0);
	assert_int_equal(lab_send(sv[0], LAB_GO, NULL, 0), 0);
	close(sv[0]);
	mc_err err = NULL;
	struct lab_frame f;
	assert_int_equal(lab_recv(sv[1], &f, &err), 1);
	assert_int_equal(f.type, LAB_ARG);
	assert_string_equal(f.data, "hello");
	lab_frame_free(&f);
	assert_int_equal(lab_recv(sv[1], &f, &err), 1);
	uint32_t v = 0;
	assert_int_equal(lab_frame_u32(&f, &v, &err), 0);
	assert_int_equal(v, 300);
	lab_frame_free(&f);
	assert_int_equal(lab_recv(sv[1], &f, &err), 1);
	assert_int_equal(f.type, LAB_GO);
	assert_int_equal(f.len, 0);
	lab_frame_free(&f);
	assert_int_equal(lab_recv(sv[1], &f, &err), 0); /* clean EOF */
	assert_null(err);
	close(sv[1]);
}

static void rejects_oversized_and_truncated(void **state)
{
	(void)state;
	int sv[2];
	mc_err err = NULL;
	struct lab_frame f;
	/* a header announcing more than the limit */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	unsigned char big[5] = {'O', 0xff, 0xff, 0xff, 0x7f};
	assert_int_equal(write(sv[0], big, 5), 5);
	assert_int_equal(lab_recv(sv[1], &f, &err), -1);
	assert_non_null(strstr(mc_error_text(err), "exceeds"));
	mc_error_free(&err);
	close(sv[0]);
	close(sv[1]);
	/* a frame cut short */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	unsigned char cut[7] = {'A', 10, 0, 0, 0, 'a', 'b'};
	assert_int_equal(write(sv[0], cut, 7), 7);
	close(sv[0]);
	assert_int_equal(lab_recv(sv[1], &f, &err), -1);
	assert_non_null(strstr(mc_error_text(err), "closed inside a frame"));
	mc_error_free(&err);
	close(sv[1]);
	/* a header cut short */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], cut, 3), 3);
	close(sv[0]);
	assert_int_equal(lab_recv(sv[1], &f, &err), -1);
	mc_error_free(&err);
	close(sv[1]);
	/* a u32 frame of the wrong size */
	struct lab_frame bad = {.type = LAB_EXIT, .len = 3, .data = (char *)"abc"};
	uint32_t v;
	assert_int_equal(lab_frame_u32(&bad, &v, &err), -1);
	mc_error_free(&err);
	/* sending more than the limit is refused locally */
	assert_int_equal(lab_send(1, LAB_STDOUT, NULL, LAB_MAX_PAYLOAD + 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trip),
	    cmocka_unit_test(rejects_oversized_and_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
