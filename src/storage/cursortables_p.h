// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_CURSORTABLES_P_H
#define SYNQ_CURSORTABLES_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/syncdatabase.h>

namespace Synq::Storage {

class Connections;

/*
    Cursor tables: what this replica is to the server — cursors (the server's opaque cursor per
    collection and scope, with the highest version applied through it) and the client id in
    meta (made once, kept in the file). The outbox's active_from mark, also in meta, is the
    outbox tables' own.
*/
class CursorTables
{
public:
    explicit CursorTables(const Connections &connections) : m_connections(connections) { }

    SyncError cursor(const QString &collection, const QString &scope,
                     SyncDatabase::Cursor *out) const;
    // Moves the cursor; its max_version never goes down.
    SyncError write(const QString &scope, qint64 now,
                    const SyncDatabase::CursorWrite &cursor) const;
    SyncError reset(const QString &collection, const QString &scope) const;
    SyncError clearScope(const QString &scope) const;

    SyncError clientId(QString *out) const;

private:
    const Connections &m_connections;
};

} // namespace Synq::Storage

#endif
