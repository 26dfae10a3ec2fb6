#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"

#define W	   720
#define H	   440
#define LEFT	   70
#define RIGHT	   170 /* the legend */
#define TOP	   40
#define BOTTOM	   50
#define MAX_SERIES 16
#define MAX_X	   16

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
				     "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

void mb_xml_escape(const char *s, char *buf, size_t size)
{
	size_t o = 0;
	for (; *s && o + 7 < size; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		default:
			buf[o++] = *s;
			continue;
		}
		size_t len = strlen(rep);
		memcpy(buf + o, rep, len);
		o += len;
	}
	buf[o] = 0;
}

static int index_of(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return (int)i;
	return -1;
}

int mb_svg_plot(const char *path, const char *title, const char *unit,
		const struct mb_summary_row *rows, size_t n, mc_err *err)
{
	const char *series[MAX_SERIES];
	unsigned xs[MAX_X];
	size_t ns = 0, nx = 0;
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (index_of(series, ns, rows[i].backend) < 0 && ns < MAX_SERIES)
			series[ns++] = rows[i].backend;
		size_t j;
		for (j = 0; j < nx && xs[j] != rows[i].guests; j++)
			;
		if (j == nx && nx < MAX_X)
			xs[nx++] = rows[i].guests;
		if (rows[i].st.min > 0 && rows[i].st.min < lo)
			lo = rows[i].st.min;
		if (rows[i].st.max > hi)
			hi = rows[i].st.max;
	}
	for (size_t a = 1; a < nx; a++) /* guest counts ascending */
		for (size_t b = a; b > 0 && xs[b - 1] > xs[b]; b--) {
			unsigned t = xs[b];
			xs[b] = xs[b - 1];
			xs[b - 1] = t;
		}
	if (!(lo < INFINITY) || hi <= 0) {
		lo = 0.1;
		hi = 1;
	}
	double dlo = floor(log10(lo)), dhi = ceil(log10(hi));
	if (dhi <= dlo)
		dhi = dlo + 1;
	const double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
#define YPOS(v) (TOP + ph - (log10(v) - dlo) / (dhi - dlo) * ph)
#define XPOS(j) (LEFT + (nx > 1 ? (double)(j) / (double)(nx - 1) * (pw - 40) + 20 : pw / 2))
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f)
		return mc_errorf(err, errno, "create `%s`", path);
	char esc[1024];
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
		W, H, W, H, W, H);
	mb_xml_escape(title, esc, sizeof(esc));
	fprintf(f, "<text x=\"%d\" y=\"22\" font-size=\"14\" font-weight=\"bold\">%s</text>\n",
		LEFT, esc);
	/* the y axis: decades, with 2 and 5 between them */
	for (double d = dlo; d <= dhi; d++) {
		static const double steps[] = {1, 2, 5};
		for (size_t s = 0; s < 3; s++) {
			double v = steps[s] * pow(10, d);
			if (log10(v) > dhi + 1e-9)
				break;
			double y = YPOS(v);
			fprintf(
			    f,
			    "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
			    LEFT, y, LEFT + pw, y, s == 0 ? "#bbbbbb" : "#eeeeee");
			fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
				LEFT - 6, y + 4, v);
		}
	}
	mb_xml_escape(unit, esc, sizeof(esc));
	fprintf(f,
		"<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" "
		"text-anchor=\"middle\">%s (log scale; point: median, bar: min to max)</text>\n",
		TOP + ph / 2, TOP + ph / 2, esc);
	for (size_t j = 0; j < nx; j++)
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%u</text>\n",
			XPOS(j), TOP + ph + 18, xs[j]);
	fprintf(f,
		"<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">guests started at once</text>\n",
		LEFT + pw / 2, H - 10);
	fprintf(f,
		"<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
		"stroke=\"#444444\"/>\n",
		LEFT, TOP, pw, ph);
	for (size_t s = 0; s < ns; s++) {
		const char *c = colors[s % MC_ARRAY_SIZE(colors)];
		double off = ((double)s - (double)(ns - 1) / 2) * 6; /* bars side by side */
		fprintf(f, "<g stroke=\"%s\" fill=\"%s\">\n<polyline fill=\"none\" points=\"", c,
			c);
		for (size_t j = 0; j < nx; j++)
			for (size_t i = 0; i < n; i++)
				if (rows[i].guests == xs[j] &&
				    strcmp(rows[i].backend, series[s]) == 0 &&
				    rows[i].st.median > 0)
					fprintf(f, "%.1f,%.1f ", XPOS(j) + off,
						YPOS(rows[i].st.median));
		fputs("\"/>\n", f);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(rows[i].backend, series[s]) != 0 || rows[i].st.median <= 0)
				continue;
			size_t j;
			for (j = 0; j < nx && xs[j] != rows[i].guests; j++)
				;
			double x = XPOS(j) + off;
			if (rows[i].st.min > 0)
				fprintf(f,
					"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
					x, YPOS(rows[i].st.min), x, YPOS(rows[i].st.max));
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>\n", x,
				YPOS(rows[i].st.median));
		}
		fputs("</g>\n", f);
		mb_xml_escape(series[s], esc, sizeof(esc));
		double ly = TOP + 10 + 20 * (double)s;
		fprintf(f,
			"<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"10\" fill=\"%s\"/>"
			"<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
			LEFT + pw + 16, ly, c, LEFT + pw + 36, ly + 10, esc);
	}
#undef YPOS
#undef XPOS
	fputs("</svg>\n", f);
	if (fflush(f) != 0 || ferror(f))
		return mc_errorf(err, errno, "write `%s`", path);
	return 0;
}
