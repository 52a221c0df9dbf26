// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_FETCHHANDLER_H
#define SYNQ_FETCHHANDLER_H

#include "httpmessage.h"

#include <QtCore/QString>
#include <QtCore/QUrlQuery>

namespace Synq {
namespace Server {

class ServerStore;

/*
    GET /v1/record?collection=C&key=K (docs/protocol.md, Fetch one record): the owner's state
    of one key now, read outside any write transaction. "found" with the record, "gone" while
    the tombstone is kept, "missing" for a key never written — and for one whose tombstone was
    pruned past the horizon: the server cannot tell those apart any more, and says so in the
    docs. The key is the server's key (with --server-assigned-keys, the one it handed out).
*/
HttpResponse fetchRecord(ServerStore *store, const QString &owner, const QUrlQuery &query);

} // namespace Server
} // namespace Synq

#endif
