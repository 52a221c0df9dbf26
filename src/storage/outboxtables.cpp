// SPDX-License-Identifier: BSD-3-Clause
#include "outboxtables_p.h"

#include "bindings_p.h"
#include "connections_p.h"

#include <synq/json.h>

#include <array>

namespace Synq::Storage {

namespace {

// A mutation's own twelve columns, in this order from position first: id, collection, key, type,
// base_version, original, modified, changes, metadata, state, created_at, updated_at — in the
// mutations table and as the m_ columns of a transaction holding its only mutation.
// modifiedText: modified as already encoded (an invalid QVariant: encode it).
void bindMutation(QSqlQuery &q, int first, const MutationRecord &m, const QVariant &modifiedText)
{
    bind(q, first, m.id);
    bind(q, first + 1, m.collection);
    bind(q, first + 2, m.key);
    bind(q, first + 3, int(m.type));
    bind(q, first + 4, m.baseVersion);
    bind(q, first + 5, jsonOrNull(m.original, m.type != MutationType::Insert));
    bind(q, first + 6,
         modifiedText.isValid() ? modifiedText
                                : jsonOrNull(m.modified, m.type != MutationType::Remove));
    // An insert's changes are its whole object (= modified): not stored twice.
    bind(q, first + 7, jsonOrNull(m.changes, m.type == MutationType::Update));
    bind(q, first + 8,
         m.metadata.isUndefined() || m.metadata.isNull()
                 ? QVariant()
                 : jsonText(Json::encode(QJsonObject { { QStringLiteral("v"), m.metadata } })));
    bind(q, first + 9, int(m.state));
    bind(q, first + 10, toMs(m.createdAt));
    bind(q, first + 11, toMs(m.updatedAt));
}

MutationRecord readMutation(const QSqlQuery &q, int first, const QString &transactionId,
                            int sequence)
{
    MutationRecord m;
    m.id = q.value(first).toString();
    m.transactionId = transactionId;
    m.sequence = sequence;
    m.collection = q.value(first + 1).toString();
    m.key = q.value(first + 2).toString();
    m.type = MutationType(q.value(first + 3).toInt());
    m.baseVersion = q.value(first + 4).toLongLong();
    m.original = decode(q.value(first + 5));
    m.modified = decode(q.value(first + 6));
    m.changes = decode(q.value(first + 7));
    if (m.type == MutationType::Insert && q.value(first + 7).isNull())
        m.changes = m.modified; // stored once, as modified
    m.metadata = decode(q.value(first + 8)).value(QStringLiteral("v"));
    m.state = MutationState(q.value(first + 9).toInt());
    m.createdAt = fromMs(q.value(first + 10));
    m.updatedAt = fromMs(q.value(first + 11));
    return m;
}

// The three statements load() runs for one selection: the transactions, then their
// mutations, then their attempts. A scope's transactions are read as a range of the table's
// key from a first seq on (the active_from mark when completed ones are left out); one
// transaction by its id.
enum class Selection { Scope, Id };
enum class Part { Transactions, Mutations, Attempts };

const char *loadSql(Selection selection, Part part)
{
    static const auto texts = [] {
        const QByteArray filters[] = {
            " WHERE t.seq >= ? AND t.scope = ? AND (? = 1 OR t.state <> 4)",
            " WHERE t.id = ?",
        };
        std::array<std::array<QByteArray, 3>, 2> out;
        for (int s = 0; s < 2; ++s) {
            out[s][int(Part::Transactions)] =
                    "SELECT t.id, t.scope, t.strategy, t.state, t.created_at, t.updated_at,"
                    " t.current_attempt, t.queued_behind, t.error_code, t.error_message,"
                    " t.error_detail, t.error_retryable, t.error_http, t.error_tx, t.merged_into,"
                    " t.m_id, t.m_collection, t.m_key, t.m_type, t.m_base_version, t.m_original,"
                    " t.m_modified, t.m_changes, t.m_metadata, t.m_state, t.m_created_at,"
                    " t.m_updated_at, t.conflict_outcome, t.hlc FROM transactions t"
                    + filters[s] + " ORDER BY t.seq";
            out[s][int(Part::Mutations)] =
                    "SELECT m.tx_id, m.seq, m.id, m.collection, m.key, m.type, m.base_version,"
                    " m.original, m.modified, m.changes, m.metadata, m.state, m.created_at,"
                    " m.updated_at FROM transactions t JOIN mutations m ON m.tx_id = t.id"
                    + filters[s] + " ORDER BY t.seq, m.seq";
            out[s][int(Part::Attempts)] =
                    "SELECT a.id, a.tx_id, a.started_at, a.completed_at, a.error_code,"
                    " a.error_message, a.error_detail, a.retry_at FROM transactions t"
                    " JOIN attempts a ON a.tx_id = t.id"
                    + filters[s] + " ORDER BY t.seq, a.started_at";
        }
        return out;
    }();
    return texts[int(selection)][int(part)].constData();
}

} // namespace

SyncError OutboxTables::insert(const TransactionRecord &tx,
                               const QList<QVariant> &modifiedText) const
{
    // One mutation: held in the transaction's row (schema 6).
    const bool inRow = tx.mutations.size() == 1;
    QSqlQuery &txq = inRow
            ? m_connections.statement(
                    "INSERT INTO transactions (id, scope, strategy, state, created_at,"
                    " updated_at, current_attempt, queued_behind, error_code, error_message,"
                    " error_detail, error_retryable, error_http, error_tx, m_id, m_collection,"
                    " m_key, m_type, m_base_version, m_original, m_modified, m_changes,"
                    " m_metadata, m_state, m_created_at, m_updated_at, hlc)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),"
                    " ?, ?, ?, ?)")
            : m_connections.statement(
                    "INSERT INTO transactions (id, scope, strategy, state, created_at,"
                    " updated_at, current_attempt, queued_behind, error_code, error_message,"
                    " error_detail, error_retryable, error_http, error_tx, hlc)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind(txq, 0, tx.id);
    bind(txq, 1, text(tx.scope));
    bind(txq, 2, int(tx.strategy));
    bind(txq, 3, int(tx.state));
    bind(txq, 4, toMs(tx.createdAt));
    bind(txq, 5, toMs(tx.updatedAt));
    bind(txq, 6, tx.currentAttempt);
    bind(txq, 7, tx.queuedBehind.isEmpty() ? QVariant() : QVariant(tx.queuedBehind));
    bindError(txq, 8, tx.error);
    auto modifiedTextOf = [&](qsizetype i) {
        return modifiedText.isEmpty() ? QVariant() : modifiedText.at(i);
    };
    if (inRow)
        bindMutation(txq, 14, tx.mutations.constFirst(), modifiedTextOf(0));
    bind(txq, inRow ? 26 : 14, tx.hlc.isEmpty() ? QVariant() : QVariant(tx.hlc));
    if (!txq.exec())
        return failed(txq);
    if (inRow)
        return SyncError();

    QSqlQuery &mq = m_connections.statement(
            "INSERT INTO mutations (tx_id, seq, scope, id, collection, key, type, base_version,"
            " original, modified, changes, metadata, state, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),"
            " CAST(? AS TEXT), ?, ?, ?)");
    for (qsizetype i = 0; i < tx.mutations.size(); ++i) {
        const MutationRecord &m = tx.mutations.at(i);
        bind(mq, 0, tx.id);
        bind(mq, 1, m.sequence);
        bind(mq, 2, text(tx.scope));
        bindMutation(mq, 3, m, modifiedTextOf(i));
        if (!mq.exec())
            return failed(mq);
    }
    return SyncError();
}

qint64 OutboxTables::activeFrom(SyncError *error) const
{
    QSqlQuery &q = m_connections.statement(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'active_from'");
    if (!q.exec()) {
        *error = failed(q);
        return 0;
    }
    const qint64 from = q.next() ? q.value(0).toLongLong() : 0;
    q.finish();
    return from;
}

// After deletes: the next new transaction gets MAX(seq) + 1, which may now be below the mark.
SyncError OutboxTables::keepActiveFromBelowNextSeq() const
{
    return m_connections.run(
            "UPDATE meta SET value = MIN(CAST(value AS INTEGER),"
            " (SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions)) WHERE name = 'active_from'");
}

SyncError OutboxTables::load(const QString &scope, bool includeCompleted, const QString &id,
                             QList<TransactionRecord> *out) const
{
    out->clear();
    const Selection selection = id.isEmpty() ? Selection::Scope : Selection::Id;
    qint64 from = 0;
    if (selection == Selection::Scope && !includeCompleted) {
        SyncError error;
        from = activeFrom(&error);
        if (error.isError())
            return error;
    }
    auto prepared = [&](Part part) -> QSqlQuery & {
        QSqlQuery &q = m_connections.statement(loadSql(selection, part));
        if (selection == Selection::Id) {
            bind(q, 0, id);
        } else {
            bind(q, 0, from);
            bind(q, 1, text(scope));
            bind(q, 2, includeCompleted ? 1 : 0);
        }
        return q;
    };
    QSqlQuery &tq = prepared(Part::Transactions);
    if (!tq.exec())
        return failed(tq);
    QHash<QString, qsizetype> index;
    while (tq.next()) {
        TransactionRecord tx;
        tx.id = tq.value(0).toString();
        tx.scope = tq.value(1).toString();
        tx.strategy = StrategyKind(tq.value(2).toInt());
        tx.state = TransactionState(tq.value(3).toInt());
        tx.createdAt = fromMs(tq.value(4));
        tx.updatedAt = fromMs(tq.value(5));
        tx.currentAttempt = tq.value(6).toInt();
        tx.queuedBehind = tq.value(7).toString();
        tx.error = readError(tq, 8);
        tx.mergedInto = tq.value(14).toString();
        tx.conflictOutcome = ConflictOutcome(tq.value(27).toInt());
        tx.hlc = tq.value(28).toString();
        if (!tq.isNull(15))
            tx.mutations.append(readMutation(tq, 15, tx.id, 0));
        index.insert(tx.id, out->size());
        out->append(std::move(tx));
    }
    tq.finish();
    if (out->isEmpty())
        return SyncError();

    QSqlQuery &mq = prepared(Part::Mutations);
    if (!mq.exec())
        return failed(mq);
    while (mq.next()) {
        const qsizetype i = index.value(mq.value(0).toString(), -1);
        if (i >= 0) {
            (*out)[i].mutations.append(
                    readMutation(mq, 2, mq.value(0).toString(), mq.value(1).toInt()));
        }
    }
    mq.finish();

    QSqlQuery &aq = prepared(Part::Attempts);
    if (!aq.exec())
        return failed(aq);
    while (aq.next()) {
        AttemptRecord a;
        a.id = aq.value(0).toString();
        a.startedAt = fromMs(aq.value(2));
        a.completedAt = fromMs(aq.value(3));
        const auto code = SyncError::Code(aq.value(4).toInt());
        if (code != SyncError::None)
            a.error = SyncError(code, aq.value(5).toString(), aq.value(6).toString());
        a.retryScheduledFor = fromMs(aq.value(7));
        const qsizetype i = index.value(aq.value(1).toString(), -1);
        if (i >= 0)
            (*out)[i].attempts.append(std::move(a));
    }
    aq.finish();
    return SyncError();
}

SyncError OutboxTables::writeStates(const QList<SyncDatabase::TransactionWrite> &writes) const
{
    QSqlQuery &tx = m_connections.statement(
            "UPDATE transactions SET state = ?, updated_at = ?, current_attempt = ?,"
            " queued_behind = ?, error_code = ?, error_message = ?, error_detail = ?,"
            " error_retryable = ?, error_http = ?, error_tx = ?,"
            // The mutation held in the row: that of a record of one mutation (NULL otherwise)
            " m_state = ?, m_updated_at = ?, m_base_version = ?, conflict_outcome = ?"
            " WHERE id = ?");
    // The mutations of a record of several.
    QSqlQuery &mutation = m_connections.statement(
            "UPDATE mutations SET state = ?, updated_at = ?, base_version = ?"
            " WHERE tx_id = ? AND seq = ?");
    QSqlQuery &attempt = m_connections.statement(
            "INSERT INTO attempts (id, tx_id, started_at, completed_at, error_code, error_message,"
            " error_detail, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tx_id, id) DO UPDATE SET completed_at = excluded.completed_at,"
            " error_code = excluded.error_code, error_message = excluded.error_message,"
            " error_detail = excluded.error_detail, retry_at = excluded.retry_at");
    QSqlQuery &dropAttempt =
            m_connections.statement("DELETE FROM attempts WHERE tx_id = ? AND id = ?");
    // The highest seq: the next insert (MAX(seq) + 1) still lands after it.
    QSqlQuery &toEnd = m_connections.statement(
            "UPDATE transactions SET seq = (SELECT MAX(seq) + 1 FROM transactions) WHERE id = ?");
    bool completedAny = false;
    for (const SyncDatabase::TransactionWrite &w : writes) {
        const TransactionRecord &r = w.record;
        completedAny = completedAny || r.state == TransactionState::Completed;
        bind(tx, 0, int(r.state));
        bind(tx, 1, toMs(r.updatedAt));
        bind(tx, 2, r.currentAttempt);
        bind(tx, 3, r.queuedBehind.isEmpty() ? QVariant() : QVariant(r.queuedBehind));
        bindError(tx, 4, r.error);
        const MutationRecord *only = r.mutations.size() == 1 ? &r.mutations.constFirst() : nullptr;
        bind(tx, 10, only ? QVariant(int(only->state)) : QVariant());
        bind(tx, 11, only ? QVariant(toMs(only->updatedAt)) : QVariant());
        bind(tx, 12, only ? QVariant(only->baseVersion) : QVariant());
        bind(tx, 13, int(r.conflictOutcome));
        bind(tx, 14, r.id);
        if (!tx.exec())
            return failed(tx);
        if (w.rewritten) {
            for (const MutationRecord &m : r.mutations) {
                if (const SyncError error = rewrite(m); error.isError())
                    return error;
            }
        }
        if (w.conflictResolved) {
            QSqlQuery &resolved =
                    m_connections.statement("DELETE FROM conflicts WHERE tx_id = ?");
            bind(resolved, 0, r.id);
            if (!resolved.exec())
                return failed(resolved);
        }
        if (w.conflict) {
            if (const SyncError error = writeConflict(r.scope, *w.conflict); error.isError())
                return error;
        }
        for (const MutationRecord &m : r.mutations) {
            if (only)
                break; // settled with its transaction's row
            bind(mutation, 0, int(m.state));
            bind(mutation, 1, toMs(m.updatedAt));
            bind(mutation, 2, m.baseVersion);
            bind(mutation, 3, r.id);
            bind(mutation, 4, m.sequence);
            if (!mutation.exec())
                return failed(mutation);
        }
        if (w.moveToEnd) {
            bind(toEnd, 0, r.id);
            if (!toEnd.exec())
                return failed(toEnd);
        }
        if (!w.droppedAttempt.isEmpty()) {
            bind(dropAttempt, 0, r.id);
            bind(dropAttempt, 1, w.droppedAttempt);
            if (!dropAttempt.exec())
                return failed(dropAttempt);
        }
        if (!r.attempts.isEmpty()) {
            const AttemptRecord &a = r.attempts.constLast();
            bind(attempt, 0, a.id);
            bind(attempt, 1, r.id);
            bind(attempt, 2, toMs(a.startedAt));
            bind(attempt, 3, a.completedAt.isValid() ? QVariant(toMs(a.completedAt)) : QVariant());
            bind(attempt, 4, int(a.error.code()));
            bind(attempt, 5, a.error.message());
            bind(attempt, 6, a.error.detail());
            bind(attempt, 7,
                 a.retryScheduledFor.isValid() ? QVariant(toMs(a.retryScheduledFor))
                                               : QVariant());
            if (!attempt.exec())
                return failed(attempt);
        }
    }

    if (completedAny) {
        // The active_from mark moves past the transactions completed from it on (it stays on
        // the first one that is not, or goes past the last).
        QSqlQuery &advance = m_connections.statement(
                "UPDATE meta SET value = COALESCE((SELECT seq FROM transactions"
                " WHERE seq >= CAST(meta.value AS INTEGER) AND state <> 4 ORDER BY seq LIMIT 1),"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions))"
                " WHERE name = 'active_from'");
        if (!advance.exec())
            return failed(advance);
    }
    return SyncError();
}

SyncError OutboxTables::rewrite(const MutationRecord &r) const
{
    QSqlQuery &m = m_connections.statement(
            "UPDATE mutations SET type = ?, original = CAST(? AS TEXT),"
            " modified = CAST(? AS TEXT), changes = CAST(? AS TEXT),"
            " base_version = ?, updated_at = ?, key = ? WHERE tx_id = ? AND seq = ?");
    QSqlQuery &inRow = m_connections.statement(
            "UPDATE transactions SET m_type = ?, m_original = CAST(? AS TEXT),"
            " m_modified = CAST(? AS TEXT), m_changes = CAST(? AS TEXT),"
            " m_base_version = ?, m_updated_at = ?, m_key = ?"
            " WHERE id = ? AND m_id IS NOT NULL AND ? = 0");
    // Wherever the mutation is held: one of the two updates finds it.
    for (QSqlQuery *q : { &m, &inRow }) {
        bind(*q, 0, int(r.type));
        bind(*q, 1, jsonOrNull(r.original, r.type != MutationType::Insert));
        bind(*q, 2, jsonOrNull(r.modified, r.type != MutationType::Remove));
        bind(*q, 3, jsonOrNull(r.changes, r.type == MutationType::Update));
        bind(*q, 4, r.baseVersion);
        bind(*q, 5, toMs(r.updatedAt));
        bind(*q, 6, r.key);
        bind(*q, 7, r.transactionId);
        bind(*q, 8, r.sequence);
        if (!q->exec())
            return failed(*q);
    }
    return SyncError();
}

SyncError OutboxTables::writeConflict(const QString &scope, const ConflictRecord &c) const
{
    QSqlQuery &q = m_connections.statement(
            "INSERT OR REPLACE INTO conflicts (id, tx_id, scope, collection, key, local, server,"
            " server_version, base, detected_at) VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT),"
            " CAST(? AS TEXT), ?, CAST(? AS TEXT), ?)");
    bind(q, 0, c.id);
    bind(q, 1, c.transactionId);
    bind(q, 2, text(scope));
    bind(q, 3, c.collection);
    bind(q, 4, c.key);
    bind(q, 5, jsonOrNull(c.local.value_or(QJsonObject()), c.local.has_value()));
    bind(q, 6, jsonOrNull(c.server.value_or(QJsonObject()), c.server.has_value()));
    bind(q, 7, c.serverVersion);
    bind(q, 8, jsonOrNull(c.base.value_or(QJsonObject()), c.base.has_value()));
    bind(q, 9, toMs(c.detectedAt));
    return q.exec() ? SyncError() : failed(q);
}

SyncError OutboxTables::loadConflicts(const QString &scope, QList<ConflictRecord> *out) const
{
    out->clear();
    QSqlQuery &q = m_connections.statement(
            "SELECT c.id, c.tx_id, c.collection, c.key, c.local, c.server, c.server_version,"
            " c.base, c.detected_at FROM conflicts c JOIN transactions t ON t.id = c.tx_id"
            " WHERE c.scope = ? ORDER BY t.seq, c.id");
    bind(q, 0, text(scope));
    if (!q.exec())
        return failed(q);
    auto record = [&](int column) {
        return q.isNull(column) ? std::nullopt : std::optional<QJsonObject>(decode(q.value(column)));
    };
    while (q.next()) {
        ConflictRecord c;
        c.id = q.value(0).toString();
        c.transactionId = q.value(1).toString();
        c.collection = q.value(2).toString();
        c.key = q.value(3).toString();
        c.local = record(4);
        c.server = record(5);
        c.serverVersion = q.value(6).toLongLong();
        c.base = record(7);
        c.detectedAt = fromMs(q.value(8));
        out->append(std::move(c));
    }
    q.finish();
    return SyncError();
}

SyncError OutboxTables::writeCompaction(const Compaction::Plan &plan) const
{
    QSqlQuery &t = m_connections.statement("UPDATE transactions SET merged_into = ? WHERE id = ?");
    for (const Compaction::Merge &merge : plan.merges) {
        if (const SyncError error = rewrite(merge.mutation); error.isError())
            return error;
        for (const QString &absorbed : merge.absorbed) {
            bind(t, 0, merge.survivor);
            bind(t, 1, absorbed);
            if (!t.exec())
                return failed(t);
        }
    }
    return SyncError();
}

SyncError OutboxTables::remove(const QStringList &ids) const
{
    QSqlQuery &q = m_connections.statement("DELETE FROM transactions WHERE id = ?");
    for (const QString &id : ids) {
        bind(q, 0, id);
        if (!q.exec())
            return failed(q);
    }
    return keepActiveFromBelowNextSeq();
}

SyncError OutboxTables::clearScope(const QString &scope) const
{
    // Mutations and attempts go with their transactions (ON DELETE CASCADE).
    if (const SyncError error =
                m_connections.run("DELETE FROM transactions WHERE scope = ?", { text(scope) });
        error.isError()) {
        return error;
    }
    return keepActiveFromBelowNextSeq();
}

} // namespace Synq::Storage
