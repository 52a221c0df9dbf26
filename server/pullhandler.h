// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PULLHANDLER_H
#define SYNQ_PULLHANDLER_H

#include "httpmessage.h"

#include <QtCore/QString>

namespace Synq {
namespace Server {

class ServerStore;

/*
    The cursor is opaque to clients; synq-server writes two forms:

    "v1:V"    — the client has every change up to version V; the next page lists the changes
                after V (upserts and deletes) in version order.
    "v1:S:X"  — the client is part-way through a listing from the beginning: it has the live
                records of the snapshot at version S up to version X. The next page lists the
                live records with X < version <= S. Records written after S come afterwards in
                the change feed from "v1:S", which the last snapshot page hands out.

    A listing from the beginning (no cursor) is such a snapshot taken now. Its last page's
    cursor is therefore never older than the tombstone horizon, however old the records are.

    410 resync-required: the cursor's V (or S) is below the pruned version (a deletion after it
    may be forgotten), or above the server's current version (the cursor is not from this
    server's history, e.g. a server restored from a backup).
*/
struct Cursor
{
    bool beginning = true;
    bool snapshot = false;
    qint64 version = 0; // V, or S
    qint64 listedUpTo = 0; // X
};

bool parseCursor(const QString &text, Cursor *cursor);
QString formatCursor(const Cursor &cursor);

HttpResponse pullChanges(ServerStore *store, const QString &owner, const QUrlQuery &query);

} // namespace Server
} // namespace Synq

#endif
