// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_COMPACTION_H
#define SYNQ_COMPACTION_H

#include <synq/records.h>
#include <synq/synq_export.h>

#include <QtCore/QList>
#include <QtCore/QSet>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace Synq {
namespace Compaction {

/*
    Outbox compaction before a push (requirement P2), as a pure function: it reads the outbox
    and says what to merge and what to drop; the caller writes that down (absorbed and cancelled
    transactions are completed, never replayed).

    Which transactions take part. A transaction is *compactable* when it is Pending or Queued, has
    exactly one mutation and was never attempted (currentAttempt == 0 and no attempts): one
    that was ever sent may already be applied on the server, so it goes out unchanged.
    Completed and Failed transactions are ignored entirely. Every other transaction
    (several mutations, attempted, Persisting, PersistedAwaitingSync) is a *barrier*
    for each item it touches: nothing is merged across it for that item.

    An item is (scope, collection, key): the same key in another collection or another scope
    is another item.

    The fold. Per item, consecutive compactable transactions fold left to right into the first
    one, the *survivor*, which keeps its transaction id and mutation id (the server's
    idempotency key); the later ones are *absorbed*:
    - insert + update  -> insert; modified and changes are the insert's object with the
                          update's changes applied.
    - update + update  -> update; changes merged (the later wins per field), modified is the
                          later's, original and baseVersion stay the earlier's.
    - update + remove  -> remove; original and baseVersion of the update, modified and changes
                          empty. A remove closes the fold.
    - insert + remove  -> when the insert is of a never-synced item, the survivor, everything
                          absorbed into it and the remove are all *cancelled*: none of them is
                          sent. The fold restarts empty (a later insert starts a new survivor).
    - remove + anything, update + insert, insert + insert -> no merge: the fold closes and the
                          later transaction starts a new one (a remove never absorbs anything).
    An insert counts as never synced when its baseVersion is 0 and the item has no earlier
    active transaction or the latest one (compactable or barrier) ends in a remove, so the item
    does not exist on the server when the insert arrives. Otherwise insert + remove is
    not merged and both are sent.

    Strategies. Only Ordered transactions merge: a Parallel transaction is persisted on its own
    and fails alone, so neither absorbs nor is absorbed (a merged pair would be one persist call
    that fails both). What a Parallel transaction still takes part in is the cancellation: the
    insert of a never-synced item, the updates after it and its removal are never sent, under
    either strategy — none of them can fail, and the item ends as it would have. Updates that
    may not merge (one of the pair is Parallel) ride along after the insert: if the removal
    comes they are cancelled with the chain, otherwise they are sent as they are, and nothing
    merges after the first of them (a later change must not overtake an earlier one).

    The merged mutation keeps the survivor's id, transactionId, sequence, collection, key,
    metadata, state and createdAt; its updatedAt is the last absorbed mutation's. A merge is
    reported only when something was absorbed. Sending the plan's outbox (survivors carrying
    the merged mutations, absorbed and cancelled transactions left out) leaves every item
    visible the same way as sending the whole outbox.

    The result depends only on the input (no clock, no hashing order).
*/

struct Merge
{
    // The transaction that carries the merged change.
    QString survivor;
    // The survivor's (only) mutation, rewritten; same id, key, collection, transactionId.
    MutationRecord mutation;
    // Later transactions whose change now travels inside the survivor (commit order).
    QStringList absorbed;
};

struct Plan
{
    QList<Merge> merges; // in commit order of the survivors
    QStringList cancelled; // transactions that need not be sent at all, commit order

    bool isEmpty() const { return merges.isEmpty() && cancelled.isEmpty(); }
};

// Whether a transaction takes part in compaction (see above).
SYNQ_EXPORT bool isCompactable(const TransactionRecord &transaction);

// The compaction of an outbox given in commit order. referenced: the items (itemId()) other
// pending changes refer to through the relation graph — their insert and removal are both sent,
// never cancelled, so that no change is left referring to an item the server never had.
SYNQ_EXPORT Plan plan(const QList<TransactionRecord> &outbox,
                      const QSet<QString> &referenced = {});

} // namespace Compaction
} // namespace Synq

#endif
