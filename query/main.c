/* arbor-query: parse settings and run the server until SIGINT/SIGTERM; SIGHUP
 * re-reads the auth files. */
#include "config.h"
#include "server.h"

#include "arbor/log.h"

#include <signal.h>
#include <string.h>

static volatile int stop_requested, reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
}

int main(int argc, char **argv)
{
    query_config_t cfg;
    arbor_cfg_result_t r = arbor_config_parse(&query_config_table, &cfg, argc, argv);
    if (r != ARBOR_CFG_RUN)
        return r == ARBOR_CFG_EXIT_OK ? 0 : 2;
    arbor_log_level = cfg.log_level;
    arbor_log_warn_if_root("arbor-query");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return query_server_run(&cfg, &stop_requested, &reload_requested);
}
