/* Include json-c through this header, never <json-c/json.h> directly: json-c's debug.h declares
 * mc_error(), mc_debug() and mc_info(), which clash with lib/error.h and lib/log.h. The clash is
 * only in the declarations (json-c never calls them), so rename them while including. */
#ifndef MINI_JSONC_H
#define MINI_JSONC_H

#pragma push_macro("mc_debug")
#pragma push_macro("mc_info")
#undef mc_debug
#undef mc_info
#define mc_error json_c_private_mc_error
#define mc_debug json_c_private_mc_debug
#define mc_info	 json_c_private_mc_info
#include <json-c/json.h>
#undef mc_error
#undef mc_debug
#undef mc_info
#pragma pop_macro("mc_debug")
#pragma pop_macro("mc_info")

#endif
