// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_LOCALCOMMIT_P_H
#define SYNQ_LOCALCOMMIT_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/records.h>
#include <synq/syncerror.h>

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QVariant>

#include <optional>

namespace Synq {

class SyncEnginePrivate;
class Transaction;

// One step of a local transaction, as the models and the explicit-transaction API hand it over.
struct LocalOp
{
    QString collection;
    MutationType type = MutationType::Insert;
    QString key;
    QJsonObject values; // the whole item for an insert, the changed fields for an update
};

/*
    Local commit: turns what an app passes (QVariant maps, JS objects, keys) into the ops of a
    local transaction, and commits a transaction — its items' new visible states and its outbox
    entry in ONE SQL transaction — before the models show it. Owns nothing but the rules; the
    state it changes belongs to the Outbox, the collection stores and the database.
*/
class LocalCommit
{
public:
    explicit LocalCommit(SyncEnginePrivate *engine) : e(engine) { }

    // Builds the op for an insert / update / remove from what the app passed; false and
    // *error for input that cannot become one.
    bool prepareInsert(const QString &collection, const QVariant &item, LocalOp *op,
                       SyncError *error) const;
    // References (through the relation graph) to client keys the server replaced take the
    // server's keys.
    void resolveReferences(const QString &collection, QJsonObject &object) const;
    bool prepareUpdate(const QString &collection, const QVariant &key, const QVariant &changes,
                       LocalOp *op, SyncError *error) const;
    bool prepareRemove(const QString &collection, const QVariant &key, LocalOp *op,
                       SyncError *error) const;
    static bool toKey(const QVariant &value, QString *out, SyncError *error);

    // The visible state of an item (nullopt: not shown), loading its row if needed.
    std::optional<QJsonObject> visibleState(const QString &collection, const QString &key) const;

    // Writes ops as one transaction and returns its handle; nullptr and *error (also reported
    // on the engine) for a refused change, of which nothing is stored or shown. `into` is an
    // open explicit transaction that becomes the committed one.
    Transaction *commit(const QList<LocalOp> &ops, StrategyKind strategy, SyncError *error,
                        Transaction *into = nullptr);

private:
    SyncEnginePrivate *e;
};

} // namespace Synq

#endif
