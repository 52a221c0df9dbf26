// SPDX-License-Identifier: BSD-3-Clause
#include <synq/transaction.h>

namespace Synq {

/*!
    \class Synq::Transaction
    \inmodule Synq
    \brief A handle on one unit of local change on its way to the backend.

    Every mutation (SyncCollection::insert(), update(), remove() and the bulk variants) creates
    a Transaction and returns it. The transaction is written to the local outbox before the call
    returns, together with the change itself, and lives on through restarts: a new process sees
    the same transactions in the same states.

    The engine owns every Transaction; the pointer stays valid as long as the SyncEngine that
    made it. Watch it through its properties, stateChanged(), and completed() or failed(), one
    of which is emitted exactly once.

    \sa SyncEngine::transaction()
*/

/*!
    \qmltype Transaction
    \inqmlmodule Synq
    \brief A unit of local change: its state, mutations and attempts.

    Returned by SyncCollection's insert(), update(), remove() and the bulk methods.
    Not creatable from QML.
*/

Transaction::Transaction(const TransactionRecord &record, QObject *parent)
    : QObject(parent), m_record(record)
{
}

Transaction::~Transaction() = default;

QString Transaction::id() const { return m_record.id; }
Transaction::State Transaction::state() const { return State(m_record.state); }
QString Transaction::stateName() const { return nameOf(m_record.state); }
Transaction::Strategy Transaction::strategy() const { return Strategy(m_record.strategy); }

QString Transaction::key() const
{
    return m_record.mutations.isEmpty() ? QString() : m_record.mutations.constFirst().key;
}

QStringList Transaction::collections() const { return m_record.collections(); }

QVariantList Transaction::mutations() const
{
    QVariantList out;
    out.reserve(m_record.mutations.size());
    for (const MutationRecord &m : m_record.mutations)
        out.append(m.toVariantMap());
    return out;
}

int Transaction::mutationCount() const { return int(m_record.mutations.size()); }

QVariantList Transaction::attempts() const
{
    QVariantList out;
    for (const AttemptRecord &a : m_record.attempts)
        out.append(a.toVariantMap());
    return out;
}

int Transaction::currentAttempt() const { return m_record.currentAttempt; }
QString Transaction::queuedBehind() const { return m_record.queuedBehind; }
SyncError Transaction::error() const { return m_record.error; }
QDateTime Transaction::createdAt() const { return m_record.createdAt; }
QDateTime Transaction::updatedAt() const { return m_record.updatedAt; }
const TransactionRecord &Transaction::record() const { return m_record; }

void Transaction::setRecord(const TransactionRecord &record)
{
    const TransactionRecord old = std::exchange(m_record, record);
    if (old.mutations.size() != record.mutations.size())
        Q_EMIT mutationsChanged();
    if (old.attempts.size() != record.attempts.size()
        || old.currentAttempt != record.currentAttempt)
        Q_EMIT attemptsChanged();
    if (old.queuedBehind != record.queuedBehind)
        Q_EMIT queuedBehindChanged();
    if (old.error != record.error)
        Q_EMIT errorChanged();
    if (old.updatedAt != record.updatedAt)
        Q_EMIT updatedAtChanged();
    if (old.state != record.state) {
        Q_EMIT stateChanged();
        if (record.state == TransactionState::Completed)
            Q_EMIT completed();
        else if (record.state == TransactionState::Failed)
            Q_EMIT failed(record.error);
    }
}

} // namespace Synq
