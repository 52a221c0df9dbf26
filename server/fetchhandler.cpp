// SPDX-License-Identifier: BSD-3-Clause
#include "fetchhandler.h"

#include "serverstore.h"

#include <synq/protocol.h>
#include <synq/pushrules.h>

namespace Synq {
namespace Server {

HttpResponse fetchRecord(ServerStore *store, const QString &owner, const QUrlQuery &query)
{
    Protocol::FetchRequest request;
    for (const char *name : { "collection", "key" }) {
        if (!query.hasQueryItem(QLatin1String(name)))
            return HttpResponse::validation(QLatin1String(name) + QStringLiteral(": missing"));
    }
    request.collection = query.queryItemValue(QStringLiteral("collection"), QUrl::FullyDecoded);
    request.key = query.queryItemValue(QStringLiteral("key"), QUrl::FullyDecoded);
    if (const std::optional<PushRules::Problem> problem = PushRules::checkFetch(request))
        return HttpResponse::validation(problem->message());

    StoredRecord stored;
    if (!store->loadRecord(owner, request.collection, request.key, &stored))
        return HttpResponse::unavailable();
    HttpResponse response;
    response.body = Protocol::encodeFetchResponse(
            PushRules::fetchAnswer(request.key, stored.state(), stored.hlc));
    return response;
}

} // namespace Server
} // namespace Synq
