// SPDX-License-Identifier: BSD-3-Clause
#include "outbox_p.h"

#include <synq/identifier.h>

#include <algorithm>
#include <limits>

namespace Synq {

int Outbox::Pending::transactionCount() const
{
    int count = 0;
    for (qsizetype i = 0; i < mutations.size(); ++i) {
        if (i == 0 || mutations.at(i).transactionId != mutations.at(i - 1).transactionId)
            ++count;
    }
    return count;
}

void Outbox::add(Transaction *handle, const TransactionRecord &record, QStringList items,
                 const QStringList *mutationItems)
{
    Entry entry;
    entry.record = record;
    entry.handle = handle;
    entry.order = m_nextOrder++;
    entry.items = items.isEmpty() ? Ordering::Entry::keysOf(record) : std::move(items);
    m_entries.insert(record.id, std::move(entry));
    m_order.append(record.id);
    if (!record.mergedInto.isEmpty())
        m_absorbed.insert(record.mergedInto, record.id);
    if (record.state == TransactionState::Queued && !record.queuedBehind.isEmpty())
        m_waiting.insert(record.queuedBehind, record.id);
    if (isActive(record.state)) {
        m_unfinished.append(record.id);
        addPending(record, mutationItems);
        ++m_activeCount;
    } else if (record.state == TransactionState::Failed) {
        addFailure(record);
        ++m_failedCount;
    }
}

void Outbox::remove(const QString &id)
{
    const auto it = m_entries.constFind(id);
    if (it == m_entries.cend())
        return;
    const TransactionRecord record = it->record;
    m_entries.erase(it);
    m_order.removeOne(id);
    m_unfinished.removeOne(id);
    m_absorbed.remove(id);
    m_waiting.remove(id);
    if (record.state == TransactionState::Queued && !record.queuedBehind.isEmpty())
        m_waiting.remove(record.queuedBehind, id);
    if (isActive(record.state)) {
        removePending(record);
        --m_activeCount;
    } else if (record.state == TransactionState::Failed) {
        removeFailure(record);
        --m_failedCount;
    }
    for (const MutationRecord &m : record.mutations)
        m_awaited.remove(m.id);
}

void Outbox::clear()
{
    *this = Outbox();
}

void Outbox::update(const TransactionRecord &record)
{
    const auto it = m_entries.find(record.id);
    if (it == m_entries.end())
        return;
    const TransactionRecord before = std::exchange(it->record, record);
    if (before.state == TransactionState::Queued && !before.queuedBehind.isEmpty())
        m_waiting.remove(before.queuedBehind, record.id);
    if (record.state == TransactionState::Queued && !record.queuedBehind.isEmpty())
        m_waiting.insert(record.queuedBehind, record.id);
    if (!record.mergedInto.isEmpty() && before.mergedInto.isEmpty())
        m_absorbed.insert(record.mergedInto, record.id);

    const bool wasActive = isActive(before.state);
    const bool nowActive = isActive(record.state);
    const bool wasFailed = before.state == TransactionState::Failed;
    const bool nowFailed = record.state == TransactionState::Failed;
    m_activeCount += int(nowActive) - int(wasActive);
    m_failedCount += int(nowFailed) - int(wasFailed);
    if (movedItems(before, record)) {
        // A remapped key: the transaction leaves its old items and joins the new ones, in its
        // place in commit order.
        if (wasActive)
            removePending(before);
        if (wasFailed)
            removeFailure(before);
        it->items = Ordering::Entry::keysOf(record);
        if (nowActive) {
            addPending(record);
            sortPending(record);
        }
        if (nowFailed)
            addFailure(record);
        return;
    }
    if (wasActive && !nowActive)
        removePending(before);
    else if (!wasActive && nowActive)
        addPending(record);
    else if (nowActive && !before.mutations.isSharedWith(record.mutations))
        refreshPending(record); // rebased base versions, or a change merged by compaction

    if (wasFailed && !nowFailed)
        removeFailure(before);
    else if (nowFailed && !wasFailed)
        addFailure(record);
}

bool Outbox::movedItems(const TransactionRecord &before, const TransactionRecord &after)
{
    if (before.mutations.isSharedWith(after.mutations))
        return false;
    if (before.mutations.size() != after.mutations.size())
        return true;
    for (qsizetype i = 0; i < before.mutations.size(); ++i) {
        const MutationRecord &a = before.mutations.at(i);
        const MutationRecord &b = after.mutations.at(i);
        if (a.key != b.key || a.collection != b.collection)
            return true;
    }
    return false;
}

void Outbox::sortPending(const TransactionRecord &t)
{
    for (const MutationRecord &m : t.mutations) {
        const auto it = m_pending.find(itemId(m.collection, m.key));
        if (it == m_pending.end())
            continue;
        std::stable_sort(it->mutations.begin(), it->mutations.end(),
                         [this](const MutationRecord &a, const MutationRecord &b) {
                             const qint64 x = orderOf(a.transactionId);
                             const qint64 y = orderOf(b.transactionId);
                             return x != y ? x < y : a.sequence < b.sequence;
                         });
    }
}

void Outbox::moveToEnd(const QString &id)
{
    const auto it = m_entries.find(id);
    if (it == m_entries.end())
        return;
    it->order = m_nextOrder++;
    m_order.removeOne(id);
    m_order.append(id);
    m_unfinished.removeOne(id);
    m_unfinished.append(id);
}

const TransactionRecord *Outbox::record(const QString &id) const
{
    const auto it = m_entries.constFind(id);
    return it == m_entries.cend() ? nullptr : &it->record;
}

Transaction *Outbox::handle(const QString &id) const
{
    const auto it = m_entries.constFind(id);
    return it == m_entries.cend() ? nullptr : it->handle;
}

qint64 Outbox::orderOf(const QString &id) const
{
    const auto it = m_entries.constFind(id);
    return it == m_entries.cend() ? std::numeric_limits<qint64>::max() : it->order;
}

QStringList Outbox::itemsOf(const QString &id) const
{
    const auto it = m_entries.constFind(id);
    return it == m_entries.cend() ? QStringList() : it->items;
}

const QStringList &Outbox::unfinished()
{
    // Finished ones leave the list here, so that a long push does not walk its completed part
    // again and again.
    m_unfinished.removeIf([this](const QString &id) {
        const TransactionRecord *r = record(id);
        return !r || !isActive(r->state);
    });
    return m_unfinished;
}

QList<Ordering::Entry> Outbox::holders(const TransactionRecord &t) const
{
    // Only earlier transactions can hold what t waits for (strict order, and no cycles).
    const qint64 position = orderOf(t.id);
    QList<QPair<qint64, QString>> ids;
    QSet<QString> seen { t.id };
    for (const MutationRecord &m : t.mutations) {
        const Pending *p = pendingOn(itemId(m.collection, m.key));
        if (!p)
            continue;
        for (const MutationRecord &other : p->mutations) {
            if (seen.contains(other.transactionId))
                continue;
            seen.insert(other.transactionId);
            const auto h = m_entries.constFind(other.transactionId);
            if (h != m_entries.cend() && h->order < position && h->record.mergedInto.isEmpty())
                ids.append({ h->order, other.transactionId });
        }
    }
    std::sort(ids.begin(), ids.end());
    QList<Ordering::Entry> out;
    out.reserve(ids.size());
    for (const auto &[order, id] : std::as_const(ids)) {
        const Entry &h = m_entries.find(id).value();
        out.append(Ordering::Entry::of(h.record, h.items));
    }
    return out;
}

QStringList Outbox::sortedByOrder(QStringList ids) const
{
    std::sort(ids.begin(), ids.end(),
              [this](const QString &a, const QString &b) { return orderOf(a) < orderOf(b); });
    return ids;
}

QStringList Outbox::queuedBehind(const QString &id) const
{
    return sortedByOrder(m_waiting.values(id));
}

const Outbox::Pending *Outbox::pendingOn(const QString &item) const
{
    const auto it = m_pending.constFind(item);
    return it == m_pending.cend() ? nullptr : &it.value();
}

template<typename Predicate>
bool Outbox::anyHolder(const QString &item, Predicate predicate) const
{
    const Pending *p = pendingOn(item);
    if (!p)
        return false;
    for (const MutationRecord &m : p->mutations) {
        const TransactionRecord *r = record(m.transactionId);
        if (r && predicate(*r))
            return true;
    }
    return false;
}

bool Outbox::isLocked(const QString &item) const
{
    return anyHolder(item, [](const TransactionRecord &r) { return Ordering::locks(r); });
}

bool Outbox::isSyncing(const QString &item) const
{
    return anyHolder(item, [](const TransactionRecord &r) {
        return r.state == TransactionState::Persisting
                || r.state == TransactionState::PersistedAwaitingSync;
    });
}

bool Outbox::inConflict(const QString &item) const
{
    return anyHolder(item, [](const TransactionRecord &r) { return awaitsResolution(r); });
}

SyncError Outbox::failureOn(const QString &item) const
{
    const auto it = m_failedOn.constFind(item);
    if (it == m_failedOn.cend() || it->isEmpty())
        return SyncError();
    const TransactionRecord *r = record(it->constLast());
    return r ? r->error : SyncError();
}

void Outbox::awaitBack(const QString &mutationId, qint64 version)
{
    m_awaited.insert(mutationId, { qMax<qint64>(0, version), false });
}

qint64 Outbox::awaitedVersion(const QString &mutationId) const
{
    return m_awaited.value(mutationId).version;
}

void Outbox::markBack(const QString &mutationId)
{
    m_awaited[mutationId].back = true;
}

bool Outbox::isBack(const QString &mutationId) const
{
    return m_awaited.value(mutationId).back;
}

void Outbox::addPending(const TransactionRecord &t, const QStringList *mutationItems)
{
    if (m_pending.capacity() < m_pending.size() + t.mutations.size())
        m_pending.reserve(m_pending.size() + t.mutations.size()); // once for a bulk transaction
    for (qsizetype i = 0; i < t.mutations.size(); ++i) {
        const MutationRecord &m = t.mutations.at(i);
        m_pending[mutationItems ? mutationItems->at(i) : itemId(m.collection, m.key)]
                .mutations.append(m);
    }
    for (const QString &collection : t.collections())
        ++m_activeIn[collection];
}

void Outbox::removePending(const TransactionRecord &t)
{
    for (const MutationRecord &m : t.mutations) {
        const auto it = m_pending.find(itemId(m.collection, m.key));
        if (it == m_pending.end())
            continue;
        it->mutations.removeIf(
                [&](const MutationRecord &p) { return p.transactionId == t.id; });
        if (it->mutations.isEmpty())
            m_pending.erase(it);
    }
    for (const QString &collection : t.collections()) {
        if (--m_activeIn[collection] <= 0)
            m_activeIn.remove(collection);
    }
}

void Outbox::refreshPending(const TransactionRecord &t)
{
    for (const MutationRecord &m : t.mutations) {
        const auto it = m_pending.find(itemId(m.collection, m.key));
        if (it == m_pending.end())
            continue;
        for (MutationRecord &p : it->mutations) {
            if (p.id == m.id)
                p = m;
        }
    }
}

void Outbox::addFailure(const TransactionRecord &t)
{
    for (const QString &item : itemsOf(t.id)) {
        QStringList &ids = m_failedOn[item];
        ids.append(t.id);
        ids = sortedByOrder(ids);
    }
}

void Outbox::removeFailure(const TransactionRecord &t)
{
    for (const QString &item : Ordering::Entry::keysOf(t)) {
        const auto it = m_failedOn.find(item);
        if (it == m_failedOn.end())
            continue;
        it->removeOne(t.id);
        if (it->isEmpty())
            m_failedOn.erase(it);
    }
}

} // namespace Synq
