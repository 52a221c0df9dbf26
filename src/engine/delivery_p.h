// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_DELIVERY_P_H
#define SYNQ_DELIVERY_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/syncdatabase.h>

#include <QtCore/QList>
#include <QtCore/QString>

namespace Synq {

class SyncEnginePrivate;

/*
    Delivery: pulled changes, once written, reach the models on the GUI thread in chunks of
    DeliveryChunk rows per event-loop turn, so that no turn is long. Rows with pending local
    changes keep them on top of the new synced state (and the stored overlay follows); rows an
    ordered transaction locks keep showing what the user did until it ends; transactions
    awaiting sync complete when their changes came back.
*/
class Delivery
{
public:
    // Rows handed to the models per event-loop turn: keeps every turn short. 250 rows take
    // 2 - 5 ms on the 2-core bench machine while the server, the decoder and the apply thread run.
    static constexpr int DeliveryChunk = 250;

    explicit Delivery(SyncEnginePrivate *engine) : e(engine) { }

    // A page was written on the apply thread (or failed to be) in the run with that serial.
    void onPageApplied(quint64 run, const QString &collection,
                       const QList<SyncDatabase::SyncedWrite> &writes, bool hasMore,
                       const SyncError &error);
    void clear() { m_queue.clear(); }

private:
    void deliverChunk();
    void completeAwaitedTransactions(const QString &collection,
                                     const QList<SyncDatabase::SyncedWrite> &writes);

    SyncEnginePrivate *e;
    QList<SyncDatabase::SyncedWrite> m_queue;
    QString m_collection;
    bool m_more = false;
};

} // namespace Synq

#endif
