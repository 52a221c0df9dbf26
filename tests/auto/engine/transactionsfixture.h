// SPDX-License-Identifier: BSD-3-Clause
// What the transaction tests share (tst_transactions_*.cpp): a real SyncEngine and its
// SyncCollection models on a SQLite file, against the in-process Synq::Testing::TestBackend;
// every test runs under both strategies (initTestCase_data), and where the strategies differ,
// each one's outcome is asserted.
#ifndef SYNQ_TRANSACTIONSFIXTURE_H
#define SYNQ_TRANSACTIONSFIXTURE_H

#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/testbackend.h>
#include <synq/transactionmodel.h>

#include <QtCore/QMetaEnum>
#include <QtCore/QPointer>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

namespace TransactionTests {

using namespace Synq;
using Synq::Protocol::PushMutation;
using Synq::Testing::TestBackend;


constexpr int Timeout = 10000; // every wait is bounded by this
constexpr int SlowNetworkMs = 500; // long enough to act while an attempt is on its way

inline QString s(const char *text)
{
    return QString::fromUtf8(text);
}

inline QVariantMap todo(const char *key, const char *title)
{
    return { { s("id"), s(key) }, { s("title"), s(title) } };
}

inline QVariantMap fullTodo(const char *key, const char *title, bool done, const char *note)
{
    return { { s("id"), s(key) }, { s("title"), s(title) }, { s("done"), done },
             { s("note"), s(note) } };
}

inline QVariantMap project(const char *key, const char *name)
{
    return { { s("id"), s(key) }, { s("name"), s(name) } };
}

inline QVariantMap changes(const char *field, const QVariant &value)
{
    return { { s(field), value } };
}

inline SyncError retryable(const char *message)
{
    return SyncError(SyncError::Network, s(message)).setRetryable(true);
}

inline SyncError refused(const char *message)
{
    return SyncError(SyncError::Validation, s(message)); // not retryable by default
}

inline QStringList mutationIds(const Transaction *t)
{
    QStringList ids;
    for (const QVariant &m : t->mutations())
        ids.append(m.toMap().value(s("mutationId")).toString());
    return ids;
}

inline QString mutationId(const Transaction *t)
{
    return mutationIds(t).value(0);
}

inline QVariantMap attempt(const Transaction *t, int i)
{
    return t->attempts().value(i).toMap();
}

inline SyncError attemptError(const Transaction *t, int i)
{
    return attempt(t, i).value(s("error")).value<SyncError>();
}

// Every state a transaction moves to, in order (the state it was made in is not a move).
using StateLog = std::shared_ptr<QList<Transaction::State>>;

inline StateLog recordStates(Transaction *t)
{
    auto log = std::make_shared<QList<Transaction::State>>();
    QObject::connect(t, &Transaction::stateChanged, t, [t, log] { log->append(t->state()); });
    return log;
}

// A persist handler for SyncCollection::setPersistHandler() that records each call; it answers
// at once with `answer` when that is set, else the test answers later through the call's done.
struct PersistLog
{
    struct Call
    {
        QPointer<Transaction> transaction;
        QString id;
        int attempt = 0;
        Transaction::State state = Transaction::Pending;
        SyncEngine::PersistCallback done;
    };
    QList<Call> calls;
    std::function<SyncError(Transaction *)> answer;

    int callsFor(const QString &id) const
    {
        return int(std::count_if(calls.cbegin(), calls.cend(),
                                 [&](const Call &c) { return c.id == id; }));
    }
};

inline SyncEngine::PersistHandler handlerFor(const std::shared_ptr<PersistLog> &log)
{
    return [log](Transaction *t, const SyncEngine::PersistCallback &done) {
        log->calls.append({ t, t->id(), t->currentAttempt(), t->state(), done });
        if (log->answer)
            done(log->answer(t));
    };
}

inline std::shared_ptr<PersistLog> succeeding()
{
    auto log = std::make_shared<PersistLog>();
    log->answer = [](Transaction *) { return SyncError(); };
    return log;
}

#define DO(statement)                                                                              \
    do {                                                                                           \
        statement;                                                                                 \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

// The engine, models and backend of one test, made fresh by setUp() for each.
class TransactionsFixture : public QObject
{
protected:
    // initTestCase_data(): each test once per strategy.
    static void addStrategies();
    // init() and cleanup().
    void setUp();
    void tearDown();

    void openEngine(bool withTransport = true);
    void closeEngine();
    void reopen(bool withTransport = true);
    // Waits for the engine to be idle, then for one whole sync run started now.
    void runOnce();
    // The server writes `record`; waits until the model shows it, synced.
    void seed(const QVariantMap &record);

    bool ordered() const { return m_strategy == SyncCollection::Ordered; }
    QVariantMap item(const char *key) const { return m_todos->getByKey(s(key)); }
    // Every value `field` of the todo `key` shows from now on, one entry per model change.
    std::shared_ptr<QVariantList> watch(const char *key, const char *field);
    int timesPushed(const QString &mutationId) const;
    // The transaction ids of the mutations the backend received, consecutive repeats folded.
    QStringList pushedTransactions() const;

    SyncCollection::Strategy m_strategy = SyncCollection::Ordered;
    std::unique_ptr<TestBackend> m_backend;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncEngine> m_engine;
    std::unique_ptr<SyncCollection> m_todos;
    std::unique_ptr<SyncCollection> m_projects;
    std::unique_ptr<TransactionModel> m_history;
    std::vector<std::unique_ptr<QAbstractItemModelTester>> m_testers;
};

} // namespace TransactionTests

#endif
