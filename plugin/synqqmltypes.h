// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNQQMLTYPES_H
#define SYNQ_SYNQQMLTYPES_H

// The QML module `Synq`: registrations of the core types, no logic. The core library stays
// free of QtQml so widgets apps link it alone.

#include <synq/syncengine.h>
#include <synq/syncerror.h>
#include <synq/syncstatus.h>
#include <synq/synccollection.h>
#include <synq/httptransport.h>
#include <synq/synctransport.h>
#include <synq/transaction.h>

#include "synqqmlhooks.h"
#include <synq/conflictmodel.h>
#include <synq/transactionmodel.h>

#include <QtQml/QQmlParserStatus>
#include <QtQml/qqml.h>

// The C++ class, for the properties that hold an engine (SyncCollection.engine, ...).
struct SynqSyncEngineForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncEngine)
    QML_ANONYMOUS
};

// The QML type SyncEngine: the engine opens when its component is complete — after every
// property (databasePath, durability, scope) is set and before Component.onCompleted runs, so
// that code there sees the stored rows.
class SynqQmlSyncEngine : public Synq::SyncEngine, public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_NAMED_ELEMENT(SyncEngine)

public:
    explicit SynqQmlSyncEngine(QObject *parent = nullptr) : Synq::SyncEngine(parent) { }

    void classBegin() override { beginSetup(); }
    void componentComplete() override { completeSetup(); }
};

struct SynqSyncCollectionForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncCollection)
    QML_NAMED_ELEMENT(SyncCollection)
    QML_EXTENDED(SynqSyncCollectionHooks) // persist
};

struct SynqTransactionForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::Transaction)
    QML_NAMED_ELEMENT(Transaction)
    QML_UNCREATABLE("Transactions are made by collections and the engine.")
};

struct SynqTransactionModelForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::TransactionModel)
    QML_NAMED_ELEMENT(TransactionModel)
};

struct SynqConflictModelForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::ConflictModel)
    QML_NAMED_ELEMENT(ConflictModel)
};

struct SynqRetryPolicyForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::RetryPolicy)
    QML_NAMED_ELEMENT(RetryPolicy)
    QML_UNCREATABLE("RetryPolicy is the grouped property SyncEngine.retryPolicy.")
};

struct SynqSyncStatusForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncStatus)
    QML_NAMED_ELEMENT(SyncStatus)
    QML_UNCREATABLE("SyncStatus is provided by SyncEngine.status.")
};

struct SynqSyncTransportForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncTransport)
    QML_NAMED_ELEMENT(SyncTransport)
    QML_UNCREATABLE("SyncTransport is abstract: use HttpTransport or another transport.")
};

struct SynqHttpTransportForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::HttpTransport)
    QML_NAMED_ELEMENT(HttpTransport)
};

struct SynqSyncErrorForeign
{
    Q_GADGET
    QML_FOREIGN(Synq::SyncError)
    QML_VALUE_TYPE(syncError)
};

// The codes of SyncError for QML, as SyncError.Validation etc. A value type cannot carry an
// uppercase QML name in Qt 6.4 (qmllint rejects it), so the codes get a namespace of their own;
// the static_asserts keep it equal to Synq::SyncError::Code.
namespace SynqSyncErrorCodes {
Q_NAMESPACE
QML_NAMED_ELEMENT(SyncError)
enum Code {
    None = Synq::SyncError::None,
    Network = Synq::SyncError::Network,
    Timeout = Synq::SyncError::Timeout,
    RateLimited = Synq::SyncError::RateLimited,
    Unauthorized = Synq::SyncError::Unauthorized,
    Forbidden = Synq::SyncError::Forbidden,
    Validation = Synq::SyncError::Validation,
    Conflict = Synq::SyncError::Conflict,
    Integrity = Synq::SyncError::Integrity,
    Storage = Synq::SyncError::Storage,
    Protocol = Synq::SyncError::Protocol,
    QueueFull = Synq::SyncError::QueueFull,
    Cancelled = Synq::SyncError::Cancelled,
};
Q_ENUM_NS(Code)
static_assert(int(Cancelled) == int(Synq::SyncError::Cancelled) && Synq::SyncError::Cancelled == 12,
              "a SyncError code was added: add it here too");
}

#endif
