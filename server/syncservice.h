// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCSERVICE_H
#define SYNQ_SYNCSERVICE_H

#include "httpmessage.h"
#include "serveroptions.h"

#include <optional>

namespace Synq {
namespace Server {

class ServerStore;

/*
    The protocol over plain requests (docs/protocol.md): routes, methods, authentication,
    media type and size checks, then push, pull, fetch or health. Knows nothing of the HTTP server
    library; every answer, error or not, is a JSON body.

    Checks run in this order, so a request learns no more than it is entitled to: path (404),
    method (405), size (413), token (401), media type (415), content (400, 413 for too many
    mutations).
*/
class SyncService
{
public:
    SyncService(ServerStore *store, const ServerOptions &options);

    HttpResponse handle(const HttpRequest &request);

    // Forgets tombstones older than the horizon (at start and periodically).
    void pruneTombstones();

private:
    HttpResponse push(const HttpRequest &request, const QString &owner);
    // The user a request acts for; nullopt when it must be refused with 401.
    std::optional<QString> owner(const HttpRequest &request) const;

    ServerStore *m_store;
    ServerOptions m_options;
};

} // namespace Server
} // namespace Synq

#endif
