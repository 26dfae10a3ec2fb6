/* Logging shared by all tools: text or JSON lines to stderr or a file. */
#ifndef MINI_LOG_H
#define MINI_LOG_H

enum mc_log_level { MC_LOG_ERROR, MC_LOG_WARN, MC_LOG_INFO, MC_LOG_DEBUG };
enum mc_log_format { MC_LOG_TEXT, MC_LOG_JSON };

/* path NULL: stderr. Returns -1 (errno set) if the file can't be opened. */
int mc_log_open(const char *prog, const char *path, enum mc_log_format format);
void mc_log_set_level(enum mc_log_level level);
void mc_log(enum mc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mc_log_warn(...)  mc_log(MC_LOG_WARN, __VA_ARGS__)
#define mc_log_info(...)  mc_log(MC_LOG_INFO, __VA_ARGS__)
#define mc_log_debug(...) mc_log(MC_LOG_DEBUG, __VA_ARGS__)

#endif
