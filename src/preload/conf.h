/* The configuration inside the program (init.c): read once at start-up,
 * and the proxy's address, looked up on first use when it is a name. */
#ifndef S5_CONF_H
#define S5_CONF_H

#include <stdbool.h>

#include "s5_config.h"

/* Read once by s5_init(); immutable afterwards, except the proxy's
 * addresses, completed once by s5_proxy_ready(). */
extern struct s5_config s5_cfg;

/* Resolves a proxy host name once, on first use (the resolver may connect,
 * so this runs inside the guard). Returns true when the configuration can
 * proxy a connection. */
bool s5_proxy_ready(void);

/* Logs the configuration error once per process (at the first connection
 * it refuses), so programs that never connect stay silent. */
void s5_report_config_error(void);

#endif
