/* Admission against a compute backend's description (the describe operation of plugin ABI
 * 1.2): before a run starts, a step whose request fits none of the places the backend
 * offers is refused, naming the step, the request and the largest offer. */
#ifndef MF_ADMIT_H
#define MF_ADMIT_H

#include "store.h"

#include <mflow/plugin.h>

struct json_t;

/* 0 when res fits one offer of the description doc (or doc says nothing to judge by: no
 * offers, or none with figures); MF_EINVAL with *err (malloc'd) naming step, the request
 * and the largest offer of compute plugin `compute` otherwise. A member an offer lacks is
 * not judged. */
int mf_admit_offers(struct json_t *doc, const char *compute, const char *step,
                    const struct mf_resources *res, char **err);

/* The same against compute c's own description, asked of it once and kept in c, for a
 * plugin without a check operation (one with check judges its requests itself). A plugin
 * without describe (before ABI 1.2), or whose describe fails, admits everything here: its
 * submit judges then. Requests of at most one CPU and nothing else are not judged (no
 * description is asked for). */
int mf_admit(struct mf_compute *c, const char *compute, const char *step,
             const struct mf_resources *res, char **err);

#endif
