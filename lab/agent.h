/* minilab agent: runs inside the lab as its PID 1 and serves command requests (proto.h). */
#ifndef LAB_AGENT_H
#define LAB_AGENT_H

#include <stdint.h>

#include "error.h"

/* Listen on 0.0.0.0:port and serve forever (until a POWEROFF request). Returns only on error
 * (or, when not PID 1, after POWEROFF). */
int lab_agent_serve(uint16_t port, const char *token_file, mc_err *err);

#endif
