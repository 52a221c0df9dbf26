// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNQQMLTYPES_H
#define SYNQ_SYNQQMLTYPES_H

// The QML module `Synq`: registrations of the core types, no logic. The core library stays
// free of QtQml so widgets apps link it alone.

#include <synq/syncengine.h>
#include <synq/syncerror.h>
#include <synq/syncstatus.h>
#include <synq/synccollection.h>
#include <synq/transaction.h>

#include <QtQml/qqml.h>

struct SynqSyncEngineForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncEngine)
    QML_NAMED_ELEMENT(SyncEngine)
};

struct SynqSyncCollectionForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncCollection)
    QML_NAMED_ELEMENT(SyncCollection)
};

struct SynqTransactionForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::Transaction)
    QML_NAMED_ELEMENT(Transaction)
    QML_UNCREATABLE("Transactions are made by collections and the engine.")
};

struct SynqSyncStatusForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncStatus)
    QML_NAMED_ELEMENT(SyncStatus)
    QML_UNCREATABLE("SyncStatus is provided by SyncEngine.status.")
};

struct SynqSyncErrorForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncError)
    QML_VALUE_TYPE(syncError)
};

// The codes of SyncError as SyncError.Validation etc.
namespace SynqSyncErrorEnums {
Q_NAMESPACE
QML_FOREIGN_NAMESPACE(Synq::SyncError)
QML_NAMED_ELEMENT(SyncError)
}

#endif
