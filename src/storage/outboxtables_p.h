// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_OUTBOXTABLES_P_H
#define SYNQ_OUTBOXTABLES_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/syncdatabase.h>

namespace Synq::Storage {

class Connections;

/*
    Outbox tables: transactions, mutations and attempts, and the active_from mark in meta (a
    seq at or below every transaction not yet completed, from which the active ones are read).

    This is the only code that knows where a mutation is held: a transaction of one mutation
    keeps it in its own row (the m_ columns, schema 6), a transaction of several in the
    mutations table. Everything outside reads and writes TransactionRecords.
*/
class OutboxTables
{
public:
    explicit OutboxTables(const Connections &connections) : m_connections(connections) { }

    // Appends a transaction with its mutations. modifiedText: each mutation's modified state
    // as already encoded (an invalid QVariant, or an empty list: encode it).
    SyncError insert(const TransactionRecord &transaction,
                     const QList<QVariant> &modifiedText) const;

    // The scope's transactions in commit order (the completed ones too if includeCompleted),
    // or, if id is set, the one transaction with that id.
    SyncError load(const QString &scope, bool includeCompleted, const QString &id,
                   QList<TransactionRecord> *out) const;

    // New states of transactions and their mutations, their attempts, and the active_from
    // mark moved past what completed.
    SyncError writeStates(const QList<SyncDatabase::TransactionWrite> &writes) const;

    // A compaction plan's merges: survivors' rewritten mutations, and where absorbed ones go.
    SyncError writeCompaction(const Compaction::Plan &plan) const;

    SyncError loadConflicts(const QString &scope, QList<ConflictRecord> *out) const;
    // Removes transactions (their mutations, attempts and conflicts go with them).
    SyncError remove(const QStringList &ids) const;
    SyncError clearScope(const QString &scope) const;

private:
    // A mutation's type, key, payloads and base version written anew, wherever it is held.
    SyncError rewrite(const MutationRecord &mutation) const;
    SyncError writeConflict(const QString &scope, const ConflictRecord &conflict) const;
    qint64 activeFrom(SyncError *error) const;
    SyncError keepActiveFromBelowNextSeq() const;

    const Connections &m_connections;
};

} // namespace Synq::Storage

#endif
