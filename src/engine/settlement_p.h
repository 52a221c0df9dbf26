// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SETTLEMENT_P_H
#define SYNQ_SETTLEMENT_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/records.h>
#include <synq/remapping.h>
#include <synq/syncdatabase.h>

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QSet>

#include <optional>

namespace Synq {

class SyncEnginePrivate;
class Transaction;

/*
    Settlement: the one way a committed transaction changes. An Outcome holds the new records
    of some transactions (as Lifecycle left them) and what the backend said about their items;
    apply() adds what follows from them — transactions absorbed by compaction end as their
    survivor, ordered transactions queued behind a failed one fail with it, the ones queued
    behind a finished one move on — and writes all of it in ONE SQL transaction together with
    the synced states of the items, then updates the rows of the collections, and last gives the
    Transaction handles their new records (so that code reacting to completed() or failed()
    reads the models in their new state).
*/
class Settlement
{
public:
    using TransactionWrite = SyncDatabase::TransactionWrite;

    // A mutation the backend applied, with the version it gave the item (-1: unknown — the
    // stored version stays).
    struct Persisted
    {
        MutationRecord mutation;
        qint64 version = -1;
    };

    // The backend's state of an item: a conflict's record, or a row a full re-sync no longer
    // lists (deleted).
    struct ServerState
    {
        QString collection;
        QString key;
        std::optional<QJsonObject> record; // nullopt: deleted
        qint64 version = 0;
    };

    struct Outcome
    {
        // The transactions' new records.
        QList<TransactionWrite> transactions;
        QList<ServerState> serverStates;
        // A stored version newer than a server state given here is kept.
        bool keepNewerStored = true;
        // Persisted mutations, in order: the synced state becomes the stored one with them.
        QList<Persisted> persisted;
        // Inserts the server applied under keys of its own (the mutations above still carry
        // the client keys): the items, the references to them and the outbox take those keys.
        QList<Remapping::KeyChange> remaps;
    };

    explicit Settlement(SyncEnginePrivate *engine) : e(engine) { }

    // False (reported) when the database could not be written: then nothing changed, and
    // memory was reloaded from the file.
    bool apply(Outcome outcome);
    bool apply(const QList<TransactionWrite> &transactions);

    // Gives a handle its new record, with the engine's signals and events for the change.
    void publish(Transaction *t, const TransactionRecord &record);
    // Shows the sync state (pending, syncing, failed) of the rows these mutations touch again,
    // where only that changed.
    void refreshSyncStates(const QList<MutationRecord> &mutations);

private:
    void addConsequences(QList<TransactionWrite> &writes) const;
    // The outcome with server keys in place of remapped client keys: in its transactions and
    // every other one the outbox holds (added to it, rewritten), in its persisted mutations and
    // server states. Fills referencing with the rows whose references change and renamed with
    // the remapped items (by their server item ids). False (reported) if the rows could not be
    // read.
    using ItemKeys = QHash<QString, std::pair<QString, QString>>; // item id -> (collection, key)
    bool remapOutcome(Outcome &outcome, const Remapping::KeyChanges &changes,
                      ItemKeys *referencing, QHash<QString, Remapping::KeyChange> *renamed);
    // The engine's list of conflicts waiting for the app, after writes (and their signals).
    void updateConflicts(const QList<TransactionWrite> &writes);

    SyncEnginePrivate *e;
};

} // namespace Synq

#endif
