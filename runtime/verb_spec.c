/* minict spec [--bundle DIR]: write the default config.json. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include <json-c/json.h>
#include "spec.h"
#include "util.h"

int ct_verb_spec(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	(void)g;
	static const struct option opts[] = {
	    {"bundle", required_argument, 0, 'b'}, {"rootless", no_argument, 0, 'r'}, {0, 0, 0, 0}};
	const char *bundle = ".";
	int c;
	while ((c = getopt_long(argc, argv, "b:", opts, NULL)) != -1) {
		if (c == 'b')
			bundle = optarg;
		else if (c != 'r')
			return mc_errorf(err, 0, "spec: bad option");
	}
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return mc_errorf(err, ENOMEM, "spec");
	json_object *o = ct_spec_default_json();
	if (!o)
		return mc_errorf(err, 0, "spec: default template is broken");
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		json_object_put(o);
		if (errno == EEXIST)
			return mc_errorf(err, 0, "spec: `%s` exists; remove it first", path);
		return mc_errorf(err, errno, "spec: create `%s`", path);
	}
	int r = 0;
	if (mc_write_all(fd, txt, strlen(txt)) < 0 || mc_write_all(fd, "\n", 1) < 0)
		r = mc_errorf(err, errno, "spec: write `%s`", path);
	close(fd);
	json_object_put(o);
	return r;
}
