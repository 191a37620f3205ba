/*
 * Authorization providers for `Require`, combinable with RequireAll/RequireAny:
 *
 *   Require kstoken-valid                  the request's token is valid (and its service token,
 *                                          when one was sent)
 *   Require kstoken-role NAME...           ... and the user token has one of these roles (ASCII
 *                                          case ignored, as oslo.policy's role checks)
 *   Require kstoken-project NAME-or-ID...  ... and the user token is scoped to one of these
 *                                          projects (its id or its name, exactly)
 *
 * A Require kstoken-* line turns the module on in its section. Where an AuthType will set r->user
 * (mod_auth_gssapi), a provider asked before authentication answers AUTHZ_DENIED_NO_USER, so httpd
 * authenticates first and asks again: a Kerberos bind is then checked against the principal. A
 * token that is refused is answered with keystonemiddleware's 401 before the Require tree is
 * evaluated (kstoken_request.c), unless KstokenDelayAuthDecision is on: then the tree decides,
 * and these providers deny.
 */
#include <string.h>

#include "mod_kstoken.h"

#include "ap_provider.h"
#include "http_core.h"
#include "http_log.h"
#include "http_request.h"
#include "mod_auth.h"
#include "apr_strings.h"

APLOG_USE_MODULE(kstoken);

typedef enum { VALID, ROLE, PROJECT } kind;

typedef struct {
    kind what;
    apr_array_header_t *names;
} parsed;

static const char *parse(cmd_parms *cmd, const char *line, const void **out, kind what)
{
    parsed *p = apr_pcalloc(cmd->pool, sizeof *p);
    const char *word;
    /* The section's configuration of this module, made now if no directive of it came first. */
    kstoken_dir *cfg = cmd->context ? ap_set_config_vectors(cmd->server, cmd->context, cmd->path,
                                                            &kstoken_module, cmd->pool)
                                    : NULL;
    p->what = what;
    p->names = apr_array_make(cmd->pool, 2, sizeof(const char *));
    while (*(word = ap_getword_conf(cmd->pool, &line)) != '\0') {
        APR_ARRAY_PUSH(p->names, const char *) = word;
    }
    if (what == VALID && p->names->nelts > 0) {
        return "Require kstoken-valid takes no argument";
    }
    if (what != VALID && p->names->nelts == 0) {
        return what == ROLE ? "Require kstoken-role needs the role names"
                            : "Require kstoken-project needs the project names or ids";
    }
    if (cfg) {
        if (cfg->enabled == KSTOKEN_UNSET_FLAG) {
            cfg->enabled = 1;
        }
        kstoken_note_section(cmd, cfg);
    }
    *out = p;
    return NULL;
}

static const char *parse_valid(cmd_parms *cmd, const char *line, const void **out)
{
    return parse(cmd, line, out, VALID);
}

static const char *parse_role(cmd_parms *cmd, const char *line, const void **out)
{
    return parse(cmd, line, out, ROLE);
}

static const char *parse_project(cmd_parms *cmd, const char *line, const void **out)
{
    return parse(cmd, line, out, PROJECT);
}

/* Whether the comma-separated `roles` hold `name`, ASCII case ignored. */
static int has_role(const char *roles, const char *name)
{
    apr_size_t n = strlen(name);
    const char *p = roles;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        apr_size_t len = comma ? (apr_size_t)(comma - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0) {
            return 1;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static authz_status check(request_rec *r, const char *line, const void *parsed_line)
{
    const parsed *p = parsed_line;
    kstoken_req *q;
    int i;
    (void)line;
    if (r->user == NULL && ap_auth_type(r) != NULL) {
        /* An AuthType will authenticate the request: let it, then decide with its principal. */
        return AUTHZ_DENIED_NO_USER;
    }
    q = kstoken_decide(r);
    if (q == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_kstoken: Require kstoken-* where Kstoken is Off: denied");
        return AUTHZ_DENIED;
    }
    if (q->status != OK || !q->valid) {
        return AUTHZ_DENIED;
    }
    switch (p->what) {
    case VALID:
        return AUTHZ_GRANTED;
    case ROLE:
        for (i = 0; i < p->names->nelts; i++) {
            if (has_role(q->roles, APR_ARRAY_IDX(p->names, i, const char *))) {
                return AUTHZ_GRANTED;
            }
        }
        break;
    case PROJECT:
        for (i = 0; i < p->names->nelts; i++) {
            const char *name = APR_ARRAY_IDX(p->names, i, const char *);
            if ((q->project_id && strcmp(q->project_id, name) == 0) ||
                (q->project_name && strcmp(q->project_name, name) == 0)) {
                return AUTHZ_GRANTED;
            }
        }
        break;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "mod_kstoken: Require kstoken-%s %s: not for this token (roles %s, project %s)",
                  p->what == ROLE ? "role" : "project", line, q->roles ? q->roles : "none",
                  q->project_name ? q->project_name : "none");
    return AUTHZ_DENIED;
}

static const authz_provider valid_provider = {check, parse_valid};
static const authz_provider role_provider = {check, parse_role};
static const authz_provider project_provider = {check, parse_project};

void kstoken_register_authz(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "kstoken-valid", AUTHZ_PROVIDER_VERSION,
                              &valid_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "kstoken-role", AUTHZ_PROVIDER_VERSION,
                              &role_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "kstoken-project", AUTHZ_PROVIDER_VERSION,
                              &project_provider, AP_AUTH_INTERNAL_PER_CONF);
}
