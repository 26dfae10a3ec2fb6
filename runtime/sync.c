#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

int ct_sync_send(int fd, int type, int errnum, const char *text)
{
	struct ct_sync_msg m = {.type = type, .errnum = errnum};
	if (text)
		strncpy(m.text, text, sizeof(m.text) - 1);
	ssize_t n;
	do
		n = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(m) ? 0 : -1;
}

int ct_sync_recv(int fd, struct ct_sync_msg *m, mc_err *err)
{
	ssize_t n;
	do
		n = recv(fd, m, sizeof(*m), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return mc_errorf(err, errno, "sync: read");
	if (n != (ssize_t)sizeof(*m))
		return mc_errorf(err, 0, "container init exited before it was ready");
	m->text[sizeof(m->text) - 1] = 0;
	return 0;
}

int ct_sync_expect(int fd, int want, mc_err *err)
{
	struct ct_sync_msg m;
	do {
		if (ct_sync_recv(fd, &m, err) < 0)
			return -1;
		if (m.type == CT_SYNC_WARN)
			mc_log_warn("%s", m.text);
	} while (m.type == CT_SYNC_WARN);
	if (m.type == CT_SYNC_ERROR)
		return mc_errorf(err, 0, "%s", m.text);
	if (m.type != want)
		return mc_errorf(err, 0, "sync: unexpected message %d (wanted %d)", m.type, want);
	return 0;
}
