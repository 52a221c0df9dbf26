// SPDX-License-Identifier: BSD-3-Clause
#include "pullapplier_p.h"

namespace Synq {

void PullApplier::apply(quint64 serial, const QString &scope, const QString &collection,
                        const Protocol::PullResponse &page)
{
    QList<SyncDatabase::SyncedWrite> writes;
    writes.reserve(page.changes.size());
    qint64 maxVersion = 0;
    for (const Protocol::Change &c : page.changes) {
        SyncDatabase::SyncedWrite w;
        w.collection = collection;
        w.key = c.key;
        w.version = c.version;
        if (!c.deleted)
            w.synced = c.data;
        maxVersion = qMax(maxVersion, c.version);
        writes.append(std::move(w));
    }
    const SyncDatabase::CursorWrite cursor { collection, page.cursor, maxVersion };
    const SyncError error = m_db->writeSynced(scope, {}, &writes, &cursor);
    Q_EMIT applied(serial, collection, error.isError() ? QList<SyncDatabase::SyncedWrite>() : writes,
                   page.hasMore, error);
}

void PullApplier::release()
{
    m_db->releaseThreadConnection();
}

} // namespace Synq
