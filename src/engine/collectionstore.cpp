// SPDX-License-Identifier: BSD-3-Clause
#include "collectionstore_p.h"

#include <synq/overlay.h>

#include <algorithm>

namespace Synq {

CollectionStore::CollectionStore(const QString &name, QObject *parent)
    : QObject(parent), m_name(name)
{
}

int CollectionStore::indexOf(const QString &key) const
{
    const qint64 *found = m_ordByKey.find(key);
    if (!found)
        return -1;
    const qint64 ord = *found;
    const auto it = std::lower_bound(m_rows.cbegin(), m_rows.cend(), ord,
                                     [](const StoreRow &r, qint64 o) { return r.ord < o; });
    if (it == m_rows.cend() || it->ord != ord)
        return -1;
    return int(it - m_rows.cbegin());
}

const StoreRow *CollectionStore::resident(const QString &key) const
{
    const int i = indexOf(key);
    return i < 0 ? nullptr : &m_rows.at(i);
}

int CollectionStore::locate(const QString &key)
{
    const int i = indexOf(key);
    if (i >= 0 || !canFetchMore() || !m_locator)
        return i;
    const qint64 ord = m_locator(key);
    if (!isUnloaded(ord))
        return -1;
    load(ord, -1);
    return indexOf(key);
}

const StoreRow *CollectionStore::find(const QString &key)
{
    const int i = locate(key);
    return i < 0 ? nullptr : &m_rows.at(i);
}

void CollectionStore::setLoader(Loader loader, Locator locator)
{
    m_loader = std::move(loader);
    m_locator = std::move(locator);
}

void CollectionStore::reset(QList<StoreRow> rows, int pendingTransactions, qint64 loadedUpTo,
                            qint64 windowEnd, bool asInserted)
{
    const bool pendingChanged = m_pendingTransactions != pendingTransactions;
    m_pendingTransactions = pendingTransactions;
    if (m_rows.isEmpty() && (asInserted || rows.isEmpty())) {
        m_loadedUpTo = loadedUpTo;
        m_windowEnd = windowEnd;
        insertRows(std::move(rows));
    } else {
        Q_EMIT aboutToBeReset();
        ++m_generation;
        m_rows = std::move(rows);
        m_ordByKey.clear();
        m_ordByKey.reserve(m_rows.size());
        for (const StoreRow &row : std::as_const(m_rows))
            m_ordByKey.insert(row.key, row.ord);
        m_loadedUpTo = loadedUpTo;
        m_windowEnd = windowEnd;
        Q_EMIT wasReset();
    }
    if (pendingChanged)
        Q_EMIT pendingTransactionsChanged();
}

void CollectionStore::clear()
{
    reset({}, 0, 0, 0);
}

int CollectionStore::fetchMore(int count)
{
    return canFetchMore() ? load(m_windowEnd, count) : 0;
}

void CollectionStore::fetchAll()
{
    if (canFetchMore())
        load(m_windowEnd, -1);
}

// Loads the stored rows after m_loadedUpTo up to ord upTo, at most limit of them.
int CollectionStore::load(qint64 upTo, int limit)
{
    QList<StoreRow> rows;
    if (!m_loader || !m_loader(m_loadedUpTo, upTo, limit, &rows))
        return 0;
    m_loadedUpTo = loadedUpTo(rows, limit, upTo);
    // A row in memory already is newer than its stored copy read here (never the case while
    // rows change only through this store; kept safe anyway).
    rows.removeIf([this](const StoreRow &r) { return m_ordByKey.find(r.key) != nullptr; });
    const int loaded = int(rows.size());
    insertRows(std::move(rows));
    return loaded;
}

static quint32 metaDiff(const StoreRow &a, const StoreRow &b)
{
    quint32 meta = 0;
    if (a.version != b.version)
        meta |= CollectionStore::MetaVersion;
    if (a.syncState() != b.syncState())
        meta |= CollectionStore::MetaSyncState;
    if (a.optimistic != b.optimistic)
        meta |= CollectionStore::MetaOptimistic;
    if (a.pending != b.pending)
        meta |= CollectionStore::MetaPending;
    if (a.lastError != b.lastError)
        meta |= CollectionStore::MetaLastError;
    if (a.key != b.key)
        meta |= CollectionStore::MetaKey;
    return meta;
}

void CollectionStore::applyStates(const QList<RowState> &states)
{
    QList<StoreRow> inserted;
    QList<int> removed;
    for (const RowState &state : states) {
        const bool renamed = !state.previousKey.isEmpty() && state.previousKey != state.key;
        const int i = indexOf(renamed ? state.previousKey : state.key);
        if (renamed && i >= 0 && state.visible) {
            // The server gave the row its own key: the same row, under its new key.
            m_ordByKey.remove(state.previousKey);
            m_ordByKey.insert(state.key, m_rows.at(i).ord);
            ++m_generation;
        }
        if (i < 0) {
            // A stored row not loaded yet comes with its new state when it is loaded.
            if (!state.visible || isUnloaded(state.ord))
                continue;
            StoreRow row;
            row.ord = state.ord;
            row.key = state.key;
            row.setData(*state.visible, state.json);
            row.version = state.version;
            row.optimistic = state.optimistic;
            takeSyncState(row, state);
            inserted.append(std::move(row));
        } else if (!state.visible) {
            removed.append(i);
        } else {
            StoreRow &row = m_rows[i];
            const StoreRow before = row;
            row.key = state.key;
            row.setData(*state.visible, state.json);
            row.version = state.version;
            row.optimistic = state.optimistic;
            takeSyncState(row, state);
            const QStringList fields = before.json == row.json
                    ? QStringList()
                    : Overlay::changedFields(before.data(), *state.visible);
            const quint32 meta = metaDiff(before, row);
            if (!fields.isEmpty() || meta) {
                ++m_generation;
                Q_EMIT rowChanged(i, fields, meta);
            }
        }
    }
    removeRows(std::move(removed));
    insertRows(std::move(inserted));
}

void CollectionStore::applySyncStates(const QList<RowSyncState> &states)
{
    for (const RowSyncState &state : states) {
        const int i = indexOf(state.key);
        if (i < 0)
            continue; // not loaded: it comes with its state when it is
        StoreRow &row = m_rows[i];
        const StoreRow before = row;
        takeSyncState(row, state);
        if (const quint32 meta = metaDiff(before, row)) {
            ++m_generation;
            Q_EMIT rowChanged(i, QStringList(), meta);
        }
    }
}

void CollectionStore::setPendingTransactions(int count)
{
    if (m_pendingTransactions == count)
        return;
    m_pendingTransactions = count;
    Q_EMIT pendingTransactionsChanged();
}

void CollectionStore::insertRows(QList<StoreRow> rows)
{
    if (rows.isEmpty())
        return;
    std::sort(rows.begin(), rows.end(),
              [](const StoreRow &a, const StoreRow &b) { return a.ord < b.ord; });
    // Rows that land between the same two existing rows form one contiguous range: one
    // rowsInserted per range (a bulk insert at the end is a single signal).
    qsizetype i = 0;
    while (i < rows.size()) {
        const auto at = std::lower_bound(
                m_rows.cbegin(), m_rows.cend(), rows.at(i).ord,
                [](const StoreRow &r, qint64 o) { return r.ord < o; });
        const qsizetype pos = at - m_rows.cbegin();
        const qint64 limit = at == m_rows.cend() ? std::numeric_limits<qint64>::max() : at->ord;
        qsizetype j = i;
        while (j < rows.size() && rows.at(j).ord < limit)
            ++j;
        Q_EMIT rowsAboutToBeInserted(int(pos), int(pos + (j - i) - 1));
        ++m_generation;
        for (qsizetype k = i; k < j; ++k)
            m_ordByKey.insert(rows.at(k).key, rows.at(k).ord);
        m_rows.insert(pos, j - i, StoreRow());
        std::move(rows.begin() + i, rows.begin() + j, m_rows.begin() + pos);
        Q_EMIT rowsInserted(int(pos), int(pos + (j - i) - 1));
        i = j;
    }
}

void CollectionStore::removeRows(QList<int> indexes)
{
    if (indexes.isEmpty())
        return;
    std::sort(indexes.begin(), indexes.end(), std::greater<int>());
    // Contiguous runs, from the bottom up so earlier indexes stay valid.
    qsizetype i = 0;
    while (i < indexes.size()) {
        qsizetype j = i + 1;
        while (j < indexes.size() && indexes.at(j) == indexes.at(j - 1) - 1)
            ++j;
        const int last = indexes.at(i);
        const int first = indexes.at(j - 1);
        Q_EMIT rowsAboutToBeRemoved(first, last);
        ++m_generation;
        for (int k = first; k <= last; ++k)
            m_ordByKey.remove(m_rows.at(k).key);
        m_rows.remove(first, last - first + 1);
        Q_EMIT rowsRemoved(first, last);
        i = j;
    }
}

} // namespace Synq
