/* router.c — dispatches a request to the protocol that owns its path: Prometheus
 * /metrics, OpenAI /v1/..., KServe /v2/..., TorchServe, TEI, then the Inference API's POST /; anything else is 404. */
#include "server/server.h"

#include <string.h>

void tl_srv_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    if (!strcmp(rq->path, "/metrics")) {
        rp->route = "metrics";
        if (strcmp(rq->method, "GET")) tl_reply_error(rp, 405, "Validation", "/metrics takes GET");
        else tl_metrics_render(s, rp);
        return;
    }
    if (tl_openai_route(s, rq, rp) || tl_tgi_route(s, rq, rp) || tl_kserve_route(s, rq, rp) || tl_torchserve_route(s, rq, rp) ||
        tl_tei_route(s, rq, rp) || tl_hf_root_route(s, rq, rp))
        return;
    rp->route = "not_found";
    tl_reply_error(rp, 404, "NotFound", "no route %s %.200s", rq->method, rq->path);
}
