// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_OUTBOX_P_H
#define SYNQ_OUTBOX_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/ordering.h>
#include <synq/records.h>

#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace Synq {

class Transaction;

/*
    The in-memory index of one engine's outbox (its current scope): every transaction the engine
    holds, in commit order, with the engine's current record of it, and per item the mutations
    still on their way. The database holds the same outbox durably; this index answers the
    questions the engine asks on every change without reading it:
    - which unfinished transactions hold an item, and whether one locks it (ordered strategy);
    - which mutations are pending on an item, so that a row's visible state is its synced state
      with them folded over it (a mutation never needs more than its one write transaction);
    - which transactions wait behind one, and which were absorbed into one by compaction;
    - how many are active (in all, per collection) and failed, for the status and the queue
      limit; which dead letters hold an item, for the row's lastError;
    - at which version each persisted mutation must come back, for await-sync.
    Records change only through update(), which keeps all of it consistent.
*/
class Outbox
{
public:
    // The mutations of unfinished transactions on one item, in commit order.
    struct Pending
    {
        QList<MutationRecord> mutations;
        int transactionCount() const;
        // The version the latest of them was made on: the base of the next change.
        qint64 baseVersion() const
        {
            return mutations.isEmpty() ? 0 : mutations.constLast().baseVersion;
        }
    };

    // Registers a transaction, loaded or new, with its handle. items: the ids of the items it
    // touches as Ordering::Entry::keysOf() lists them, mutationItems: the item id of each
    // mutation — both computed here when the caller does not have them.
    void add(Transaction *handle, const TransactionRecord &record, QStringList items = {},
             const QStringList *mutationItems = nullptr);
    // A dead letter given up for good.
    void remove(const QString &id);
    void clear();
    // The transaction's record is now `record`.
    void update(const TransactionRecord &record);
    // Last in commit order now (a retried dead letter goes after everything before it).
    void moveToEnd(const QString &id);

    bool contains(const QString &id) const { return m_entries.contains(id); }
    // The current record, nullptr for a transaction not held.
    const TransactionRecord *record(const QString &id) const;
    Transaction *handle(const QString &id) const;
    qint64 orderOf(const QString &id) const;
    QStringList itemsOf(const QString &id) const;
    // Every transaction held, in commit order.
    const QStringList &inCommitOrder() const { return m_order; }
    // The unfinished ones (neither completed nor failed), in commit order.
    const QStringList &unfinished();

    // The unfinished transactions before t (in commit order) that touch one of its items;
    // absorbed ones are left out (their survivor stands for them).
    QList<Ordering::Entry> holders(const TransactionRecord &t) const;
    // The transactions queued behind id, in commit order.
    QStringList queuedBehind(const QString &id) const;
    // The transactions compaction absorbed into id.
    QStringList absorbedInto(const QString &id) const { return m_absorbed.values(id); }

    // The item's pending mutations; nullptr when nothing is pending on it.
    const Pending *pendingOn(const QString &item) const;
    // Whether an ordered transaction that locks the item holds it.
    bool isLocked(const QString &item) const;
    // Whether a transaction on its way to the backend (persisting, or persisted and awaiting
    // sync) holds the item.
    bool isSyncing(const QString &item) const;
    // One of its transactions waits for the app to resolve a conflict (awaitsResolution()).
    bool inConflict(const QString &item) const;
    // The error of the most recent dead letter with a change to the item; none when there is
    // no dead letter on it.
    SyncError failureOn(const QString &item) const;

    int activeCount() const { return m_activeCount; }
    int failedCount() const { return m_failedCount; }
    int activeIn(const QString &collection) const { return m_activeIn.value(collection); }

    // Await-sync: a persisted mutation's change must come back through sync at `version`;
    // one persisted without a known version (by a persist handler) is not registered and is
    // matched by its fields. markBack() records that it came back.
    void awaitBack(const QString &mutationId, qint64 version);
    bool isAwaited(const QString &mutationId) const { return m_awaited.contains(mutationId); }
    qint64 awaitedVersion(const QString &mutationId) const;
    void markBack(const QString &mutationId);
    bool isBack(const QString &mutationId) const;
    void stopAwaiting(const QString &mutationId) { m_awaited.remove(mutationId); }

private:
    struct Entry
    {
        TransactionRecord record;
        Transaction *handle = nullptr;
        qint64 order = 0;
        QStringList items;
    };
    struct Awaited
    {
        qint64 version = 0;
        bool back = false;
    };

    // Whether an unfinished transaction with a pending mutation on the item satisfies predicate.
    template<typename Predicate>
    bool anyHolder(const QString &item, Predicate predicate) const;
    void addPending(const TransactionRecord &t, const QStringList *mutationItems = nullptr);
    void removePending(const TransactionRecord &t);
    void refreshPending(const TransactionRecord &t);
    // Whether a mutation of the transaction changed its item (a remapped key).
    static bool movedItems(const TransactionRecord &before, const TransactionRecord &after);
    // The pending lists of t's items back in commit order (after t joined them anew).
    void sortPending(const TransactionRecord &t);
    void addFailure(const TransactionRecord &t);
    void removeFailure(const TransactionRecord &t);
    QStringList sortedByOrder(QStringList ids) const;

    QHash<QString, Entry> m_entries;
    QStringList m_order; // every id, commit order
    QStringList m_unfinished; // unfinished ids in commit order (finished ones pruned lazily)
    qint64 m_nextOrder = 0;
    QHash<QString, Pending> m_pending; // item id -> its pending mutations
    QHash<QString, QStringList> m_failedOn; // item id -> dead letters on it, commit order
    QMultiHash<QString, QString> m_waiting; // blocker -> transactions queued behind it
    QMultiHash<QString, QString> m_absorbed; // survivor -> transactions compacted into it
    QHash<QString, int> m_activeIn; // collection -> active transactions touching it
    QHash<QString, Awaited> m_awaited; // mutation id -> the version it must come back at
    int m_activeCount = 0;
    int m_failedCount = 0;
};

} // namespace Synq

#endif
