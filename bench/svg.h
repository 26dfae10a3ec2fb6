/* A small SVG writer for minibench's figures: one line per backend over the guest counts,
 * a point at the median and a bar from min to max, on a log scale (the backends span three
 * orders of magnitude: a chroot in 1 ms, an engine in hundreds). */
#ifndef MB_SVG_H
#define MB_SVG_H

#include <stddef.h>

#include "error.h"
#include "results.h"

/* Write path: title on top, x = guests, y = unit (log), a legend. The text is escaped. */
int mb_svg_plot(const char *path, const char *title, const char *unit,
		const struct mb_summary_row *rows, size_t n, mc_err *err);
/* Escape &, <, >, " for XML into buf. */
void mb_xml_escape(const char *s, char *buf, size_t size);

#endif
