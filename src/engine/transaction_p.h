// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TRANSACTION_P_H
#define SYNQ_TRANSACTION_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/transaction.h>

#include "localcommit_p.h"

#include <QtCore/QHash>
#include <QtCore/QPointer>

#include <memory>
#include <optional>

namespace Synq {

class SyncEngine;

/*
    The state behind a Transaction handle: the record as the engine last published it (the
    engine's own copy, in the Outbox, may be a step ahead while an outcome is being written),
    and for an open explicit transaction the changes staged so far.
*/
class TransactionPrivate
{
public:
    // The changes of an open explicit transaction (SyncEngine::begin()) until commit().
    struct Draft
    {
        QList<LocalOp> ops;
        // The state each item reaches inside the transaction so far (nullopt: removed).
        QHash<QString, std::optional<QJsonObject>> items;
    };

    static TransactionPrivate *get(Transaction *t) { return t->d.get(); }
    static const TransactionPrivate *get(const Transaction *t) { return t->d.get(); }
    static Transaction *create(const TransactionRecord &record, QObject *parent)
    {
        return new Transaction(record, parent);
    }
    // An explicit transaction of engine, open for changes.
    static Transaction *createOpen(const TransactionRecord &record, SyncEngine *engine);

    // Stages a prepared op on the draft; false and *error if the items do not allow it.
    bool stage(const LocalOp &op, SyncError *error);
    template<typename Prepare>
    bool prepareAndStage(LocalOp *op, Prepare prepare);

    // Takes the record and emits the handle's own change signals (state, attempts, ...).
    void setRecord(const TransactionRecord &record);

    Transaction *q = nullptr;
    TransactionRecord record;
    QPointer<SyncEngine> engine; // set for explicit transactions
    bool open = false;
    std::unique_ptr<Draft> draft;
};

} // namespace Synq

#endif
