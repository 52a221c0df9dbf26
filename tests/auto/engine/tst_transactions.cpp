// SPDX-License-Identifier: BSD-3-Clause
// Transactions end to end (issue 4, seed 001): a real SyncEngine and its SyncCollection models on
// a SQLite file, against the in-process Synq::Testing::TestBackend. Every test runs under both
// strategies (initTestCase_data); where the strategies differ, each one's outcome is asserted.

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

using namespace Synq;
using Synq::Protocol::PushMutation;
using Synq::Testing::TestBackend;

namespace {

constexpr int Timeout = 10000; // every wait is bounded by this
constexpr int SlowNetworkMs = 500; // long enough to act while an attempt is on its way

QString s(const char *text)
{
    return QString::fromUtf8(text);
}

QVariantMap todo(const char *key, const char *title)
{
    return { { s("id"), s(key) }, { s("title"), s(title) } };
}

QVariantMap fullTodo(const char *key, const char *title, bool done, const char *note)
{
    return { { s("id"), s(key) }, { s("title"), s(title) }, { s("done"), done },
             { s("note"), s(note) } };
}

QVariantMap project(const char *key, const char *name)
{
    return { { s("id"), s(key) }, { s("name"), s(name) } };
}

QVariantMap changes(const char *field, const QVariant &value)
{
    return { { s(field), value } };
}

SyncError retryable(const char *message)
{
    return SyncError(SyncError::Network, s(message)).setRetryable(true);
}

SyncError refused(const char *message)
{
    return SyncError(SyncError::Validation, s(message)); // not retryable by default
}

QStringList mutationIds(const Transaction *t)
{
    QStringList ids;
    for (const QVariant &m : t->mutations())
        ids.append(m.toMap().value(s("mutationId")).toString());
    return ids;
}

QString mutationId(const Transaction *t)
{
    return mutationIds(t).value(0);
}

QVariantMap attempt(const Transaction *t, int i)
{
    return t->attempts().value(i).toMap();
}

SyncError attemptError(const Transaction *t, int i)
{
    return attempt(t, i).value(s("error")).value<SyncError>();
}

// Every state a transaction moves to, in order (the state it was made in is not a move).
using StateLog = std::shared_ptr<QList<Transaction::State>>;

StateLog recordStates(Transaction *t)
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

SyncEngine::PersistHandler handlerFor(const std::shared_ptr<PersistLog> &log)
{
    return [log](Transaction *t, const SyncEngine::PersistCallback &done) {
        log->calls.append({ t, t->id(), t->currentAttempt(), t->state(), done });
        if (log->answer)
            done(log->answer(t));
    };
}

std::shared_ptr<PersistLog> succeeding()
{
    auto log = std::make_shared<PersistLog>();
    log->answer = [](Transaction *) { return SyncError(); };
    return log;
}

} // namespace

#define DO(statement)                                                                              \
    do {                                                                                           \
        statement;                                                                                 \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

class tst_Transactions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void init();
    void cleanup();

    // 1. The state machine on Transaction
    void aRetriedTransactionMovesThroughEveryStateOnce();
    void aRefusedTransactionFailsOnceWithItsAttempt();

    // 2. Explicit transactions
    void explicitTransactionCommitsAcrossCollectionsAsOneUnit();
    void explicitTransactionRollbackStoresNothing();
    void explicitCommitThatCannotBeMadeStoresNothing();
    void explicitTransactionRefusedByTheServerRollsBackEverywhere_data();
    void explicitTransactionRefusedByTheServerRollsBackEverywhere();

    // 3. Strategies
    void laterChangeToAnItemOnItsWay();
    void failureForGoodAndTheChangesAfterIt();
    void serverUpdateToAnItemHeldByATransaction_data();
    void serverUpdateToAnItemHeldByATransaction();
    void failingTheMiddleOfThreeFieldEdits();
    void laterChangeWhileAnEarlierOneWaitsForItsRetry();
    void rollbackStaysWhenALaterChangeIsPersisted();
    void persistKeepsAServerChangeThatArrivedWhileItWaited();
    void aSlowPersistHoldsBackOnlyWhatWaitsForIt();
    void mergeFunctionPutsPendingChangesOnANewSyncedState();
    void rowsAreSettledWhenTheOutcomeIsSignalled();

    // 4. Retries and dead letters
    void retryableFailureIsRetriedWithBackoff();
    void retriesExhaustedEndInFailed_data();
    void retriesExhaustedEndInFailed();
    void nonRetryableFailureFailsAtOnce_data();
    void nonRetryableFailureFailsAtOnce();
    void retryPolicyChangesTakeEffect();
    void offlineUsesUpNoAttempts();
    void deadLetterIsRetried();
    void deadLetterIsDiscarded();
    void retryAndDiscardRefuseWhatIsNotADeadLetter();

    // 5. Queue limit
    void fullQueueRejectsNewChanges();

    // 6. Recovery
    void pendingTransactionsResumeOnceAfterRestart();
    void awaitingSyncAtCloseIsCompletedAfterRestart();
    void attemptInFlightAtCloseResumesWithTheSameIds_data();
    void attemptInFlightAtCloseResumesWithTheSameIds();

    // 7. Custom persist
    void customPersistIsAnsweredLater();
    void customPersistFailuresAreRetriedOrFinal();
    void customPersistAnsweredTwiceOrLateIsHarmless();
    void customPersistWorksWithoutATransport();

    // 8. Await-sync
    void awaitSyncThroughTheTransportCompletesInTheSameRun();
    void awaitSyncWithACustomPersistWaitsForMatchingFields();

    // 9. Monitoring
    void monitoringSignalsFollowEveryStep();

private:
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

void tst_Transactions::initTestCase_data()
{
    QTest::addColumn<SyncCollection::Strategy>("strategy");
    QTest::newRow("ordered") << SyncCollection::Ordered;
    QTest::newRow("parallel") << SyncCollection::Parallel;
}

void tst_Transactions::init()
{
    QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
    m_strategy = strategy;
    m_backend = std::make_unique<TestBackend>();
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    DO(openEngine());
}

void tst_Transactions::cleanup()
{
    closeEngine(); // the engine before the backend whose transport it uses
    m_backend.reset();
    m_dir.reset();
}

void tst_Transactions::openEngine(bool withTransport)
{
    m_engine = std::make_unique<SyncEngine>();
    m_engine->setDatabasePath(m_dir->filePath(s("client.sqlite")));
    QVERIFY(m_engine->open());
    m_engine->retryPolicy()->setInitialDelayMs(10);
    m_engine->retryPolicy()->setMaxDelayMs(100);
    if (withTransport)
        m_engine->setTransport(m_backend->transport());
    m_todos = std::make_unique<SyncCollection>(m_engine.get(), s("todos"),
                                               QStringList { s("title"), s("done"), s("note") });
    m_projects = std::make_unique<SyncCollection>(m_engine.get(), s("projects"),
                                                  QStringList { s("name") });
    m_todos->setStrategy(m_strategy);
    m_projects->setStrategy(m_strategy);
    m_history = std::make_unique<TransactionModel>(m_engine.get());
    for (QAbstractItemModel *model : { static_cast<QAbstractItemModel *>(m_todos.get()),
                                       static_cast<QAbstractItemModel *>(m_projects.get()),
                                       static_cast<QAbstractItemModel *>(m_history.get()) }) {
        m_testers.push_back(std::make_unique<QAbstractItemModelTester>(
                model, QAbstractItemModelTester::FailureReportingMode::QtTest));
    }
}

void tst_Transactions::closeEngine()
{
    m_testers.clear();
    m_history.reset();
    m_todos.reset();
    m_projects.reset();
    m_engine.reset();
}

void tst_Transactions::reopen(bool withTransport)
{
    closeEngine();
    openEngine(withTransport);
}

void tst_Transactions::runOnce()
{
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    m_engine->syncNow(); // not running: this run starts now
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), Timeout);
}

void tst_Transactions::seed(const QVariantMap &record)
{
    const QString key = record.value(s("id")).toString();
    const qint64 version = m_backend->emitUpdate(s("todos"), record);
    QVERIFY(version > 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->getByKey(key).value(s("version")).toLongLong(), version,
                              Timeout);
    QCOMPARE(m_todos->getByKey(key).value(s("syncState")).toInt(), int(SyncCollection::Synced));
}

std::shared_ptr<QVariantList> tst_Transactions::watch(const char *key, const char *field)
{
    auto values = std::make_shared<QVariantList>();
    const QString k = s(key);
    const QString f = s(field);
    SyncCollection *model = m_todos.get();
    auto note = [values, model, k, f] {
        if (model->indexOfKey(k) >= 0)
            values->append(model->getByKey(k).value(f));
    };
    connect(model, &QAbstractItemModel::dataChanged, this, note);
    connect(model, &QAbstractItemModel::rowsInserted, this, note);
    connect(model, &QAbstractItemModel::modelReset, this, note);
    return values;
}

int tst_Transactions::timesPushed(const QString &mutationId) const
{
    int n = 0;
    for (const PushMutation &m : m_backend->pushedMutations())
        n += m.id == mutationId ? 1 : 0;
    return n;
}

QStringList tst_Transactions::pushedTransactions() const
{
    QStringList txs;
    for (const PushMutation &m : m_backend->pushedMutations()) {
        if (txs.isEmpty() || txs.constLast() != m.tx)
            txs.append(m.tx);
    }
    return txs;
}

// ---------------------------------------------------------------------------------------------
// 1. The state machine on Transaction

void tst_Transactions::aRetriedTransactionMovesThroughEveryStateOnce()
{
    m_backend->failNextPersist(retryable("busy"));
    const QDateTime before = QDateTime::currentDateTimeUtc();
    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);

    // Made: Pending, nothing tried yet.
    QCOMPARE(t->state(), Transaction::Pending);
    QCOMPARE(t->stateName(), s("Pending"));
    QVERIFY(!t->id().isEmpty());
    QCOMPARE(t->key(), s("a"));
    QCOMPARE(t->strategy(), ordered() ? Transaction::Ordered : Transaction::Parallel);
    QVERIFY(t->createdAt().isValid());
    QVERIFY(t->createdAt() >= before);
    QCOMPARE(t->updatedAt(), t->createdAt());
    QVERIFY(t->attempts().isEmpty());
    QCOMPARE(t->currentAttempt(), 0);
    QVERIFY(!t->nextRetryAt().isValid());
    QVERIFY(t->queuedBehind().isEmpty());
    QVERIFY(!t->error().isError());
    QCOMPARE(t->mutationCount(), 1);
    QCOMPARE(t->mutations().constFirst().toMap().value(s("state")).toString(), s("created"));

    StateLog states = recordStates(t);
    QList<QDateTime> retryAtWhilePending;
    connect(t, &Transaction::stateChanged, this, [&] {
        if (t->state() == Transaction::Pending)
            retryAtWhilePending.append(t->nextRetryAt());
    });
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);
    QSignalSpy updated(t, &Transaction::updatedAtChanged);
    QSignalSpy attemptsChanged(t, &Transaction::attemptsChanged);

    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting, Transaction::Pending,
                                                  Transaction::Persisting,
                                                  Transaction::Completed }));
    QCOMPARE(completed.size(), 1);
    QCOMPARE(failed.size(), 0);
    QVERIFY(attemptsChanged.size() >= 2);
    QVERIFY(!updated.isEmpty()); // (moves within one millisecond keep updatedAt)

    // Two attempts, each with its own id, start and end; the first failed and scheduled the
    // second, which started no earlier than scheduled.
    QCOMPARE(t->attempts().size(), 2);
    QCOMPARE(t->currentAttempt(), 2);
    const QVariantMap a0 = attempt(t, 0);
    const QVariantMap a1 = attempt(t, 1);
    QVERIFY(!a0.value(s("id")).toString().isEmpty());
    QVERIFY(!a1.value(s("id")).toString().isEmpty());
    QVERIFY(a0.value(s("id")) != a1.value(s("id")));
    QVERIFY(a0.value(s("startedAt")).toDateTime() >= t->createdAt());
    QVERIFY(a0.value(s("completedAt")).toDateTime() >= a0.value(s("startedAt")).toDateTime());
    QCOMPARE(attemptError(t, 0).code(), SyncError::Network);
    QCOMPARE(attemptError(t, 0).message(), s("busy"));
    const QDateTime scheduled = a0.value(s("retryScheduledFor")).toDateTime();
    QVERIFY(scheduled.isValid());
    QVERIFY(scheduled > a0.value(s("completedAt")).toDateTime());
    QVERIFY(a1.value(s("startedAt")).toDateTime() >= scheduled);
    QVERIFY(a1.value(s("completedAt")).toDateTime() >= a1.value(s("startedAt")).toDateTime());
    QVERIFY(!attemptError(t, 1).isError());
    QVERIFY(!a1.value(s("retryScheduledFor")).toDateTime().isValid());

    // nextRetryAt named the scheduled retry while it waited, and nothing once done.
    QCOMPARE(retryAtWhilePending, QList<QDateTime> { scheduled });
    QVERIFY(!t->nextRetryAt().isValid());
    QVERIFY(!t->error().isError());
    QCOMPARE(t->updatedAt(), a1.value(s("completedAt")).toDateTime());
    QVERIFY(t->updatedAt() > t->createdAt());
    QCOMPARE(t->mutations().constFirst().toMap().value(s("state")).toString(), s("synced"));

    // Completed is final: later runs change nothing and signal nothing.
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(completed.size(), 1);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(states->size(), 4);
    QCOMPARE(timesPushed(mutationId(t)), 2);
}

void tst_Transactions::aRefusedTransactionFailsOnceWithItsAttempt()
{
    m_backend->failNextPersist(refused("title too long"));
    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    StateLog states = recordStates(t);
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);

    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, Timeout);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting, Transaction::Failed }));
    QCOMPARE(t->stateName(), s("Failed"));
    const SyncError error = failed.constFirst().constFirst().value<SyncError>();
    QCOMPARE(error.code(), SyncError::Validation);
    QCOMPARE(error.message(), s("title too long"));
    QVERIFY(!error.isRetryable());
    QVERIFY(error.transactionId().isEmpty()); // its own failure, not a dependency's
    QCOMPARE(t->error(), error);
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(t->currentAttempt(), 1);
    QVERIFY(attempt(t, 0).value(s("completedAt")).toDateTime().isValid());
    QCOMPARE(attemptError(t, 0).code(), SyncError::Validation);
    QVERIFY(!attempt(t, 0).value(s("retryScheduledFor")).toDateTime().isValid());
    QVERIFY(!t->nextRetryAt().isValid());
    QCOMPARE(t->updatedAt(), attempt(t, 0).value(s("completedAt")).toDateTime());
    QCOMPARE(completed.size(), 0);

    // Rolled back, kept as a dead letter.
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, Timeout);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { t.data() });
    QCOMPARE(m_engine->status()->failedCount(), 1);
    QCOMPARE(m_engine->status()->pendingCount(), 0);

    // Failed is final until retried: later runs neither send it nor signal again.
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Failed);
    QCOMPARE(failed.size(), 1);
    QCOMPARE(completed.size(), 0);
    QCOMPARE(states->size(), 2);
    QCOMPARE(m_backend->pushedMutations().size(), 1);
}

// ---------------------------------------------------------------------------------------------
// 2. Explicit transactions

void tst_Transactions::explicitTransactionCommitsAcrossCollectionsAsOneUnit()
{
    DO(seed(todo("b", "B")));
    DO(seed(todo("c", "C")));
    DO(runOnce());
    QSignalSpy added(m_engine.get(), &SyncEngine::transactionAdded);
    QSignalSpy todosInserted(m_todos.get(), &QAbstractItemModel::rowsInserted);
    QSignalSpy todosRemoved(m_todos.get(), &QAbstractItemModel::rowsRemoved);
    QSignalSpy projectsInserted(m_projects.get(), &QAbstractItemModel::rowsInserted);
    QSignalSpy pushes(m_backend.get(), &TestBackend::pushed);

    Transaction *t = m_engine->begin();
    QVERIFY(t);
    QVERIFY(t->isOpen());
    QCOMPARE(t->insert(s("projects"), project("p1", "Home")), s("p1"));
    const QString paint = t->insert(s("todos"), QVariantMap { { s("title"), s("Paint") } });
    QVERIFY(!paint.isEmpty()); // a key was made for it
    QVERIFY(t->update(s("todos"), s("b"), changes("title", s("B2"))));
    QVERIFY(t->remove(s("todos"), s("c")));

    // Staged only: nothing shows, nothing is stored or sent.
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(m_todos->rowCount(), 2);
    QCOMPARE(item("b").value(s("title")).toString(), s("B"));
    QVERIFY(m_todos->indexOfKey(s("c")) >= 0);
    QCOMPARE(added.size(), 0);
    QVERIFY(!m_engine->transactionHistory().contains(t));
    QCOMPARE(m_history->indexOf(t->id()), -1);
    DO(runOnce());
    QCOMPARE(pushes.size(), 0);
    QVERIFY(m_backend->pushedMutations().isEmpty());

    // Commit: everything shows at once, before the call returns.
    QVERIFY(t->commit());
    QVERIFY(!t->isOpen());
    QCOMPARE(m_projects->rowCount(), 1);
    QCOMPARE(m_projects->getByKey(s("p1")).value(s("name")).toString(), s("Home"));
    QCOMPARE(m_todos->getByKey(paint).value(s("title")).toString(), s("Paint"));
    QCOMPARE(item("b").value(s("title")).toString(), s("B2"));
    QCOMPARE(m_todos->indexOfKey(s("c")), -1);
    QCOMPARE(projectsInserted.size(), 1);
    QCOMPARE(todosInserted.size(), 1);
    QCOMPARE(todosRemoved.size(), 1);
    QCOMPARE(added.size(), 1);
    QCOMPARE(added.constFirst().constFirst().value<Transaction *>(), t);
    QVERIFY(m_engine->transactionHistory().contains(t));
    QCOMPARE(t->mutationCount(), 4);
    QCOMPARE(t->collections(), (QStringList { s("projects"), s("todos") }));
    QCOMPARE(t->strategy(), ordered() ? Transaction::Ordered : Transaction::Parallel);
    QVERIFY(t->state() == Transaction::Pending);

    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    // One push unit: one request, every mutation under the transaction's id, in order.
    QCOMPARE(pushes.size(), 1);
    QCOMPARE(pushes.constFirst().constFirst().toInt(), 4);
    const QList<PushMutation> pushed = m_backend->pushedMutations();
    QCOMPARE(pushed.size(), 4);
    QStringList ids;
    for (const PushMutation &m : pushed) {
        QCOMPARE(m.tx, t->id());
        ids.append(m.id);
    }
    QCOMPARE(ids, mutationIds(t));
    QCOMPARE(pushed.at(0).collection, s("projects"));
    QCOMPARE(pushed.at(3).op, MutationType::Remove);

    // The server holds all of it.
    QVERIFY(m_backend->contains(s("projects"), s("p1")));
    QCOMPARE(m_backend->record(s("todos"), paint).value(s("title")).toString(), s("Paint"));
    QCOMPARE(m_backend->record(s("todos"), s("b")).value(s("title")).toString(), s("B2"));
    QVERIFY(!m_backend->contains(s("todos"), s("c")));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->pendingCount(), 0, Timeout);
    QCOMPARE(m_projects->pendingCount(), 0);
    QCOMPARE(item("b").value(s("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(m_projects->getByKey(s("p1")).value(s("syncState")).toInt(),
             int(SyncCollection::Synced));
}

void tst_Transactions::explicitTransactionRollbackStoresNothing()
{
    DO(seed(todo("b", "B")));
    QSignalSpy added(m_engine.get(), &SyncEngine::transactionAdded);
    QPointer<Transaction> t = m_engine->begin();
    QVERIFY(t);
    const QString id = t->id();
    QSignalSpy failed(t, &Transaction::failed);
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy openChanged(t, &Transaction::openChanged);
    QCOMPARE(t->insert(s("projects"), project("p1", "Home")), s("p1"));
    QVERIFY(t->update(s("todos"), s("b"), changes("title", s("B2"))));

    t->rollback();
    QCOMPARE(t->state(), Transaction::Failed);
    QVERIFY(!t->isOpen());
    QCOMPARE(openChanged.size(), 1);
    QCOMPARE(failed.size(), 1);
    QCOMPARE(failed.constFirst().constFirst().value<SyncError>().code(), SyncError::Cancelled);
    QCOMPARE(t->error().code(), SyncError::Cancelled);
    QCOMPARE(completed.size(), 0);
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(item("b").value(s("title")).toString(), s("B"));
    QCOMPARE(added.size(), 0);
    QVERIFY(!m_engine->transactionHistory().contains(t.data()));
    QVERIFY(!m_engine->deadLetters().contains(t.data())); // nothing to retry
    QCOMPARE(m_engine->status()->failedCount(), 0);

    // Closed for good: no more staging, no commit, a second rollback does nothing.
    QVERIFY(t->insert(s("projects"), QVariantMap { { s("id"), s("p2") } }).isEmpty());
    QVERIFY(!t->commit());
    t->rollback();
    QCOMPARE(failed.size(), 1);

    DO(runOnce());
    QVERIFY(m_backend->pushedMutations().isEmpty());
    QVERIFY(m_backend->records(s("projects")).isEmpty());

    DO(reopen());
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(item("b").value(s("title")).toString(), s("B"));
    QVERIFY(m_engine->transactionHistory().isEmpty());
    QVERIFY(!m_engine->transaction(id));
}

void tst_Transactions::explicitCommitThatCannotBeMadeStoresNothing()
{
    QSignalSpy engineErrors(m_engine.get(), &SyncEngine::errorOccurred);
    QPointer<Transaction> t = m_engine->begin();
    QVERIFY(t);
    const QString id = t->id();
    QSignalSpy failed(t, &Transaction::failed);
    QCOMPARE(t->insert(s("projects"), project("p1", "Home")), s("p1"));
    QCOMPARE(t->insert(s("todos"), todo("x", "staged")), s("x"));
    // Staging an insert of a key the transaction already holds is refused; it stays open.
    QVERIFY(t->insert(s("todos"), todo("x", "twice")).isEmpty());
    QVERIFY(t->isOpen());
    QCOMPARE(failed.size(), 0);

    // Meanwhile the same key is inserted directly: the commit cannot be made any more.
    QPointer<Transaction> direct = m_todos->insert(todo("x", "direct"));
    QVERIFY(direct);
    engineErrors.clear();
    QVERIFY(!t->commit());
    QCOMPARE(t->state(), Transaction::Failed);
    QVERIFY(!t->isOpen());
    QCOMPARE(failed.size(), 1);
    QCOMPARE(t->error().code(), SyncError::Validation);
    QVERIFY(!engineErrors.isEmpty());
    // Nothing of it is stored: the project is not there, the direct insert is untouched.
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(item("x").value(s("title")).toString(), s("direct"));
    QCOMPARE(m_engine->transactionHistory(), QList<Transaction *> { direct.data() });
    QVERIFY(!m_engine->deadLetters().contains(t.data()));

    // A commit with nothing staged is refused too.
    QPointer<Transaction> empty = m_engine->begin();
    QSignalSpy emptyFailed(empty, &Transaction::failed);
    QVERIFY(!empty->commit());
    QCOMPARE(empty->state(), Transaction::Failed);
    QCOMPARE(emptyFailed.size(), 1);

    QTRY_COMPARE_WITH_TIMEOUT(direct->state(), Transaction::Completed, Timeout);
    QCOMPARE(m_backend->pushedMutations().size(), 1);
    QCOMPARE(m_backend->pushedMutations().constFirst().tx, direct->id());
    QVERIFY(m_backend->records(s("projects")).isEmpty());
    QCOMPARE(m_backend->record(s("todos"), s("x")).value(s("title")).toString(), s("direct"));

    DO(reopen());
    QCOMPARE(m_projects->rowCount(), 0);
    QVERIFY(!m_engine->transaction(id));
    QCOMPARE(m_engine->transactionHistory().size(), 0); // the completed one is not reloaded
}

void tst_Transactions::explicitTransactionRefusedByTheServerRollsBackEverywhere_data()
{
    QTest::addColumn<bool>("conflict");
    QTest::newRow("the server refuses the transaction") << false;
    QTest::newRow("one mutation conflicts, so none is applied") << true;
}

void tst_Transactions::explicitTransactionRefusedByTheServerRollsBackEverywhere()
{
    QFETCH(bool, conflict);
    DO(seed(todo("b", "B")));
    if (conflict)
        m_backend->injectConflict(s("todos"), s("b"), todo("b", "Server B"));
    else
        m_backend->failNextPersist(refused("no"));

    Transaction *t = m_engine->begin();
    QCOMPARE(t->insert(s("projects"), project("p1", "Home")), s("p1"));
    QVERIFY(t->update(s("todos"), s("b"), changes("title", s("B2"))));
    QCOMPARE(t->insert(s("todos"), todo("a", "A")), s("a"));
    QSignalSpy failed(t, &Transaction::failed);
    QVERIFY(t->commit());
    QCOMPARE(m_projects->rowCount(), 1);
    QCOMPARE(item("b").value(s("title")).toString(), s("B2"));

    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, Timeout);
    QCOMPARE(t->state(), Transaction::Failed);
    QCOMPARE(t->error().code(), conflict ? SyncError::Conflict : SyncError::Validation);
    QCOMPARE(t->attempts().size(), 1);

    // The server applied none of it.
    const QList<PushMutation> pushed = m_backend->pushedMutations();
    QCOMPARE(pushed.size(), 3);
    for (const PushMutation &m : pushed)
        QCOMPARE(m.tx, t->id());
    QVERIFY(m_backend->records(s("projects")).isEmpty());
    QVERIFY(!m_backend->contains(s("todos"), s("a")));
    const QString serverB = conflict ? s("Server B") : s("B");
    QCOMPARE(m_backend->record(s("todos"), s("b")).value(s("title")).toString(), serverB);

    // Both collections roll back: the rows show the server's state.
    QTRY_COMPARE_WITH_TIMEOUT(m_projects->rowCount(), 0, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(item("b").value(s("title")).toString(), serverB, Timeout);
    QCOMPARE(m_todos->pendingCount(), 0);
    QCOMPARE(m_projects->pendingCount(), 0);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { t });
}

// ---------------------------------------------------------------------------------------------
// 3. Strategies

void tst_Transactions::laterChangeToAnItemOnItsWay()
{
    DO(seed(todo("a", "Milk")));
    DO(runOnce());
    m_backend->setNetworkDelay(SlowNetworkMs);
    QList<QVariantMap> events;
    connect(m_engine.get(), &SyncEngine::transactionEvent, this,
            [&](const QVariantMap &e) { events.append(e); });

    Transaction *t1 = m_todos->update(s("a"), changes("title", s("One")));
    QVERIFY(t1);
    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::Persisting, Timeout);
    Transaction *t2 = m_todos->update(s("a"), changes("done", true));
    Transaction *t3 = m_todos->update(s("a"), changes("note", s("n")));
    QVERIFY(t2 && t3);
    QCOMPARE(t1->state(), Transaction::Persisting); // precondition: made while t1 is on its way
    StateLog states2 = recordStates(t2);
    StateLog states3 = recordStates(t3);
    QList<Transaction::State> t1WhenT2Went;
    connect(t2, &Transaction::stateChanged, this, [&] {
        if (t2->state() == Transaction::Persisting)
            t1WhenT2Went.append(t1->state());
    });
    // All three show at once.
    QCOMPARE(item("a").value(s("title")).toString(), s("One"));
    QCOMPARE(item("a").value(s("done")).toBool(), true);
    QCOMPARE(item("a").value(s("note")).toString(), s("n"));
    QCOMPARE(item("a").value(s("pendingTransactions")).toInt(), 3);

    auto created = [&](const Transaction *t) {
        for (const QVariantMap &e : std::as_const(events)) {
            if (e.value(s("type")) == s("created") && e.value(s("transactionId")) == t->id())
                return e;
        }
        return QVariantMap();
    };
    if (ordered()) {
        // Queued behind the transaction that holds the item, in a chain.
        QCOMPARE(t2->state(), Transaction::Queued);
        QCOMPARE(t2->queuedBehind(), t1->id());
        QCOMPARE(t3->state(), Transaction::Queued);
        QCOMPARE(t3->queuedBehind(), t2->id());
        QCOMPARE(created(t2).value(s("state")).toInt(), int(Transaction::Queued));
        QCOMPARE(created(t2).value(s("queuedBehind")).toString(), t1->id());
        QCOMPARE(m_history->get(m_history->indexOf(t2->id())).value(s("queuedBehind")).toString(),
                 t1->id());
    } else {
        // No locks, no queue.
        QCOMPARE(t2->state(), Transaction::Pending);
        QVERIFY(t2->queuedBehind().isEmpty());
        QCOMPARE(t3->state(), Transaction::Pending);
        QVERIFY(t3->queuedBehind().isEmpty());
        QCOMPARE(created(t2).value(s("state")).toInt(), int(Transaction::Pending));
        QVERIFY(!created(t2).contains(s("queuedBehind")));
        // The later two persist together.
        QTRY_VERIFY_WITH_TIMEOUT(t2->state() == Transaction::Persisting
                                         && t3->state() == Transaction::Persisting,
                                 Timeout);
    }

    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::Completed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(t2->state(), Transaction::Completed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(t3->state(), Transaction::Completed, Timeout);
    const QStringList order = pushedTransactions();
    if (ordered()) {
        // Strictly after t1: t2 went only once t1 was done (t3 may travel inside t2).
        QCOMPARE(t1WhenT2Went, QList<Transaction::State> { Transaction::Completed });
        if (order.contains(t3->id()))
            QCOMPARE(order, (QStringList { t1->id(), t2->id(), t3->id() }));
        else
            QCOMPARE(order, (QStringList { t1->id(), t2->id() }));
        QCOMPARE(states2->constFirst(), Transaction::Pending); // released
    } else {
        QCOMPARE(order, (QStringList { t1->id(), t2->id(), t3->id() }));
        QVERIFY(!states2->contains(Transaction::Queued));
        QVERIFY(!states3->contains(Transaction::Queued));
        QCOMPARE(*states2, (QList<Transaction::State> { Transaction::Persisting,
                                                       Transaction::Completed }));
        QCOMPARE(*states3, (QList<Transaction::State> { Transaction::Persisting,
                                                       Transaction::Completed }));
    }
    const QJsonObject server = m_backend->record(s("todos"), s("a"));
    QCOMPARE(server.value(s("title")).toString(), s("One"));
    QCOMPARE(server.value(s("done")).toBool(), true);
    QCOMPARE(server.value(s("note")).toString(), s("n"));
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced),
                              Timeout);
    QCOMPARE(item("a").value(s("title")).toString(), s("One"));
}

void tst_Transactions::failureForGoodAndTheChangesAfterIt()
{
    DO(seed(fullTodo("a", "Milk", false, "")));
    DO(runOnce());
    m_backend->setNetworkDelay(SlowNetworkMs);
    m_backend->failNextPersist(refused("no"));

    Transaction *t1 = m_todos->update(s("a"), changes("title", s("One")));
    QVERIFY(t1);
    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::Persisting, Timeout);
    Transaction *t2 = m_todos->update(s("a"), changes("done", true));
    Transaction *t3 = m_todos->update(s("a"), changes("note", s("n")));
    QVERIFY(t2 && t3);
    QCOMPARE(t1->state(), Transaction::Persisting); // precondition
    QSignalSpy failed2(t2, &Transaction::failed);
    QSignalSpy failed3(t3, &Transaction::failed);
    QSignalSpy completed2(t2, &Transaction::completed);
    if (ordered()) {
        QCOMPARE(t2->queuedBehind(), t1->id());
        QCOMPARE(t3->queuedBehind(), t2->id());
    }

    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::Failed, Timeout);
    QCOMPARE(t1->error().code(), SyncError::Validation);
    if (ordered()) {
        // Dependency cancellation: what waited behind t1, directly or down the chain, fails
        // with it, naming t1, and is never sent.
        QTRY_COMPARE_WITH_TIMEOUT(t3->state(), Transaction::Failed, Timeout);
        for (Transaction *t : { t2, t3 }) {
            QCOMPARE(t->state(), Transaction::Failed);
            QCOMPARE(t->error().transactionId(), t1->id());
            QCOMPARE(t->error().code(), SyncError::Validation);
            QVERIFY(!t->error().isRetryable());
            QCOMPARE(t->currentAttempt(), 0);
            QVERIFY(t->attempts().isEmpty());
            QVERIFY(t->queuedBehind().isEmpty() || t->queuedBehind() == t1->id()
                    || t->queuedBehind() == t2->id());
            QCOMPARE(timesPushed(mutationId(t)), 0);
        }
        QCOMPARE(failed2.size(), 1);
        QCOMPARE(failed3.size(), 1);
        QCOMPARE(failed2.constFirst().constFirst().value<SyncError>().transactionId(), t1->id());
        const QVariantMap row3 = m_history->get(m_history->indexOf(t3->id()));
        QCOMPARE(row3.value(s("failedBecauseOf")).toString(), t1->id());
        // Every optimistic change is rolled back: the row is the server's again.
        QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("pendingTransactions")).toInt(), 0, Timeout);
        QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
        QCOMPARE(item("a").value(s("done")).toBool(), false);
        QCOMPARE(item("a").value(s("note")).toString(), QString());
        QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
        QCOMPARE(m_engine->deadLetters(), (QList<Transaction *> { t1, t2, t3 }));
        QCOMPARE(m_engine->status()->failedCount(), 3);
        DO(runOnce());
        QCOMPARE(m_backend->pushedMutations().size(), 1); // only t1 ever went
        QCOMPARE(failed2.size(), 1);
    } else {
        // Nothing else fails: the others go on and complete; only t1's field rolls back, and
        // it stays rolled back when they complete.
        QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
        const auto titles = watch("a", "title");
        QTRY_COMPARE_WITH_TIMEOUT(t2->state(), Transaction::Completed, Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(t3->state(), Transaction::Completed, Timeout);
        QCOMPARE(failed2.size(), 0);
        QCOMPARE(failed3.size(), 0);
        QCOMPARE(completed2.size(), 1);
        QVERIFY(!t2->error().isError());
        QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { t1 });
        QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("pendingTransactions")).toInt(), 0, Timeout);
        DO(runOnce());
        QVERIFY2(!titles->contains(s("One")),
                 qPrintable(s("the rolled-back title showed again: ")
                            + QVariant(*titles).toStringList().join(s(", "))));
        QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
        QCOMPARE(item("a").value(s("done")).toBool(), true);
        QCOMPARE(item("a").value(s("note")).toString(), s("n"));
        const QJsonObject server = m_backend->record(s("todos"), s("a"));
        QCOMPARE(server.value(s("title")).toString(), s("Milk"));
        QCOMPARE(server.value(s("done")).toBool(), true);
        QCOMPARE(server.value(s("note")).toString(), s("n"));
    }
}

void tst_Transactions::serverUpdateToAnItemHeldByATransaction_data()
{
    QTest::addColumn<bool>("awaiting");
    QTest::newRow("held by a transaction awaiting sync") << true;
    QTest::newRow("held by a transaction being persisted") << false;
}

void tst_Transactions::serverUpdateToAnItemHeldByATransaction()
{
    // T10. Through the transport a run pulls only after its pushes were answered, so a pulled
    // change meets a held item when a persist function persists it: still persisting (a slow
    // function), or persisted and awaiting sync.
    QFETCH(bool, awaiting);
    DO(seed(fullTodo("a", "Milk", false, "")));
    auto log = awaiting ? succeeding() : std::make_shared<PersistLog>();
    m_todos->setAwaitSync(awaiting);
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->update(s("a"), changes("done", true));
    QVERIFY(t);
    const Transaction::State holding =
            awaiting ? Transaction::PersistedAwaitingSync : Transaction::Persisting;
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), holding, Timeout);
    QCOMPARE(item("a").value(s("done")).toBool(), true);

    // Another client changes the title; its done is still false, so t has not come back.
    m_backend->emitUpdate(s("todos"), fullTodo("a", "Server", false, ""));
    DO(runOnce());
    QCOMPARE(t->state(), holding);
    if (ordered()) {
        // The item is locked: the model keeps showing what the user did.
        QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
        QCOMPARE(item("a").value(s("done")).toBool(), true);
    } else {
        // No lock: the pulled state shows at once, the pending change merged on top.
        QCOMPARE(item("a").value(s("title")).toString(), s("Server"));
        QCOMPARE(item("a").value(s("done")).toBool(), true);
    }

    if (awaiting) {
        // The change comes back: t completes and the row shows the latest server state.
        const qint64 version =
                m_backend->emitUpdate(s("todos"), fullTodo("a", "Server 2", true, "x"));
        DO(runOnce());
        QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
        QCOMPARE(item("a").value(s("title")).toString(), s("Server 2"));
        QCOMPARE(item("a").value(s("note")).toString(), s("x"));
        QCOMPARE(item("a").value(s("version")).toLongLong(), version);
    } else {
        // Persisted: the row shows the pulled state with t's change on it.
        log->calls.constFirst().done(SyncError());
        QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
        QCOMPARE(item("a").value(s("title")).toString(), s("Server"));
    }
    QCOMPARE(item("a").value(s("done")).toBool(), true);
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
    QCOMPARE(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced));
}

void tst_Transactions::failingTheMiddleOfThreeFieldEdits()
{
    DO(seed(fullTodo("a", "Milk", false, "")));
    DO(runOnce());
    // One transaction per request, answers slow: t2 and t3 are made while t1 is on its way,
    // and the failure queued after t1 reached the server hits the next one it receives: t2.
    m_backend->transport()->setBatchSize(1);
    m_backend->setNetworkDelay(SlowNetworkMs);
    QPointer<Transaction> t1 = m_todos->update(s("a"), changes("title", s("One")));
    QVERIFY(t1);
    QTRY_COMPARE_WITH_TIMEOUT(timesPushed(mutationId(t1)), 1, Timeout);
    m_backend->failNextPersist(refused("done refused"));
    QPointer<Transaction> t2 = m_todos->update(s("a"), changes("done", true));
    QPointer<Transaction> t3 = m_todos->update(s("a"), changes("note", s("n")));
    QVERIFY(t2 && t3);
    QCOMPARE(t1->state(), Transaction::Persisting); // precondition
    QCOMPARE(item("a").value(s("title")).toString(), s("One"));
    QCOMPARE(item("a").value(s("done")).toBool(), true);
    QCOMPARE(item("a").value(s("note")).toString(), s("n"));

    // What the row shows right after t2 failed, where t3 was then, and every value of done
    // the row shows from then on.
    QVariantMap rowAfterFailure;
    Transaction::State t3AfterFailure = Transaction::Pending;
    std::shared_ptr<QVariantList> doneAfterFailure;
    connect(t2, &Transaction::failed, this, [&] {
        QTimer::singleShot(0, this, [&] {
            rowAfterFailure = item("a");
            t3AfterFailure = t3->state();
            doneAfterFailure = watch("a", "done");
        });
    });

    QTRY_COMPARE_WITH_TIMEOUT(t2->state(), Transaction::Failed, Timeout);
    QCOMPARE(t2->error().code(), SyncError::Validation);
    QTRY_VERIFY_WITH_TIMEOUT(!rowAfterFailure.isEmpty(), Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(t3->isFinished(), Timeout);
    QCOMPARE(t1->state(), Transaction::Completed);
    if (ordered()) {
        // t3 was queued behind t2: it fails with it and its change rolls back too.
        QCOMPARE(t3->state(), Transaction::Failed);
        QCOMPARE(t3->error().code(), SyncError::Validation);
        QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("pendingTransactions")).toInt(), 0, Timeout);
        QCOMPARE(item("a").value(s("title")).toString(), s("One"));
        QCOMPARE(item("a").value(s("done")).toBool(), false);
        QCOMPARE(item("a").value(s("note")).toString(), QString());
        QCOMPARE(m_backend->record(s("todos"), s("a")).value(s("note")).toString(), QString());
    } else {
        // Only t2's field is restored, while t3 is still on its way; t3 then completes.
        QVERIFY(t3AfterFailure == Transaction::Pending
                || t3AfterFailure == Transaction::Persisting);
        QCOMPARE(rowAfterFailure.value(s("title")).toString(), s("One"));
        QCOMPARE(rowAfterFailure.value(s("done")).toBool(), false);
        QCOMPARE(rowAfterFailure.value(s("note")).toString(), s("n"));
        QCOMPARE(t3->state(), Transaction::Completed);
        DO(runOnce());
        QVERIFY2(!doneAfterFailure->contains(true),
                 qPrintable(s("the rolled-back done showed again: ")
                            + QVariant(*doneAfterFailure).toStringList().join(s(", "))));
        QVERIFY(!t3->error().isError());
        QCOMPARE(pushedTransactions(), (QStringList { t1->id(), t2->id(), t3->id() }));
        QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("pendingTransactions")).toInt(), 0, Timeout);
        QCOMPARE(item("a").value(s("title")).toString(), s("One"));
        QCOMPARE(item("a").value(s("done")).toBool(), false);
        QCOMPARE(item("a").value(s("note")).toString(), s("n"));
        const QJsonObject server = m_backend->record(s("todos"), s("a"));
        QCOMPARE(server.value(s("title")).toString(), s("One"));
        QCOMPARE(server.value(s("done")).toBool(), false);
        QCOMPARE(server.value(s("note")).toString(), s("n"));
    }
}

void tst_Transactions::laterChangeWhileAnEarlierOneWaitsForItsRetry()
{
    DO(seed(todo("a", "Milk")));
    DO(runOnce());
    m_engine->retryPolicy()->setJitter(0);
    m_engine->retryPolicy()->setMaxDelayMs(5000);
    m_engine->retryPolicy()->setInitialDelayMs(1500);
    m_backend->failNextPersist(retryable("busy"));
    Transaction *t1 = m_todos->update(s("a"), changes("title", s("One")));
    QVERIFY(t1);
    QTRY_VERIFY_WITH_TIMEOUT(t1->state() == Transaction::Pending && t1->nextRetryAt().isValid(),
                             Timeout);
    Transaction *t2 = m_todos->update(s("a"), changes("done", true));
    QVERIFY(t2);
    QList<Transaction::State> t1WhenT2Completed;
    connect(t2, &Transaction::completed, this, [&] { t1WhenT2Completed.append(t1->state()); });

    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::Completed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(t2->state(), Transaction::Completed, Timeout);
    QCOMPARE(t1->attempts().size(), 2);
    QCOMPARE(t2->attempts().size(), 1);
    const QStringList order = pushedTransactions();
    if (ordered()) {
        // The later change waits for the retry of the earlier one.
        QCOMPARE(order.mid(order.size() - 2), (QStringList { t1->id(), t2->id() }));
        QCOMPARE(t1WhenT2Completed, QList<Transaction::State> { Transaction::Completed });
    } else {
        // The later change does not wait: it reaches the server before the retry.
        QCOMPARE(order.mid(order.size() - 3), (QStringList { t1->id(), t2->id(), t1->id() }));
        QCOMPARE(t1WhenT2Completed, QList<Transaction::State> { Transaction::Pending });
    }
    const QJsonObject server = m_backend->record(s("todos"), s("a"));
    QCOMPARE(server.value(s("title")).toString(), s("One"));
    QCOMPARE(server.value(s("done")).toBool(), true);
}

void tst_Transactions::rollbackStaysWhenALaterChangeIsPersisted()
{
    // The synced state a persisted transaction leaves is the server's state with its own
    // changes, not the row as it looked when it was made (which held others' pending changes).
    DO(seed(fullTodo("a", "Milk", false, "")));
    auto log = std::make_shared<PersistLog>(); // the test answers
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t1 = m_todos->update(s("a"), changes("title", s("One")));
    QVERIFY(t1);
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 1, Timeout);
    Transaction *t2 = m_todos->update(s("a"), changes("done", true));
    QVERIFY(t2);
    QCOMPARE(item("a").value(s("title")).toString(), s("One"));

    log->calls.constFirst().done(refused("no"));
    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::Failed, Timeout);
    if (ordered()) {
        QTRY_COMPARE_WITH_TIMEOUT(t2->state(), Transaction::Failed, Timeout);
        QCOMPARE(t2->error().transactionId(), t1->id());
        QCOMPARE(log->calls.size(), 1);
        QCOMPARE(item("a").value(s("done")).toBool(), false);
    } else {
        QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 2, Timeout);
        QCOMPARE(log->calls.constLast().id, t2->id());
        QCOMPARE(item("a").value(s("title")).toString(), s("Milk")); // t1 rolled back
        const auto titles = watch("a", "title");
        log->calls.constLast().done(SyncError());
        QTRY_COMPARE_WITH_TIMEOUT(t2->state(), Transaction::Completed, Timeout);
        QCOMPARE(item("a").value(s("done")).toBool(), true);
        DO(runOnce());
        QVERIFY2(!titles->contains(s("One")),
                 qPrintable(s("the rolled-back title showed again: ")
                            + QVariant(*titles).toStringList().join(s(", "))));
    }
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
}

void tst_Transactions::persistKeepsAServerChangeThatArrivedWhileItWaited()
{
    // t2 is made while t1 awaits sync; a server change to another field arrives before t2 is
    // persisted: once t2 is persisted the row keeps that change.
    DO(seed(fullTodo("a", "Milk", false, "")));
    m_todos->setAwaitSync(true);
    m_todos->setPersistHandler(handlerFor(succeeding()));
    Transaction *t1 = m_todos->update(s("a"), changes("done", true));
    QVERIFY(t1);
    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::PersistedAwaitingSync, Timeout);
    Transaction *t2 = m_todos->update(s("a"), changes("note", s("n")));
    QVERIFY(t2);
    if (ordered())
        QCOMPARE(t2->queuedBehind(), t1->id());
    m_todos->setAwaitSync(false); // t2 completes when persisted

    // The server has t1's change and a new title from another client.
    m_backend->emitUpdate(s("todos"), fullTodo("a", "Server", true, ""));
    DO(runOnce());
    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::Completed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(t2->state(), Transaction::Completed, Timeout);
    DO(runOnce());
    if (ordered()) {
        // t2 was persisted after the pull: the server's title stays, with t2's note on it.
        QCOMPARE(item("a").value(s("title")).toString(), s("Server"));
        QCOMPARE(item("a").value(s("note")).toString(), s("n"));
    } else {
        // t2 was persisted before the pull, which brought the server's record.
        QCOMPARE(item("a").value(s("title")).toString(), s("Server"));
    }
    QCOMPARE(item("a").value(s("done")).toBool(), true);
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
}

void tst_Transactions::aSlowPersistHoldsBackOnlyWhatWaitsForIt()
{
    DO(seed(todo("a", "Milk")));
    DO(seed(todo("b", "Tea")));
    auto log = std::make_shared<PersistLog>(); // the test answers
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t1 = m_todos->update(s("a"), changes("title", s("One")));
    QVERIFY(t1);
    QTRY_COMPARE_WITH_TIMEOUT(log->callsFor(t1->id()), 1, Timeout);
    Transaction *t2 = m_todos->update(s("a"), changes("done", true)); // the same item
    Transaction *t3 = m_todos->update(s("b"), changes("title", s("Two"))); // another item
    QVERIFY(t2 && t3);

    // Another item never waits for t1's slow persist.
    QTRY_COMPARE_WITH_TIMEOUT(log->callsFor(t3->id()), 1, Timeout);
    if (ordered()) {
        // The same item waits behind it.
        QCOMPARE(t2->state(), Transaction::Queued);
        QCOMPARE(t2->queuedBehind(), t1->id());
        QCOMPARE(log->callsFor(t2->id()), 0);
    } else {
        // Every transaction persists at once.
        QTRY_COMPARE_WITH_TIMEOUT(log->callsFor(t2->id()), 1, Timeout);
        QCOMPARE(t2->state(), Transaction::Persisting);
    }
    QCOMPARE(t1->state(), Transaction::Persisting);

    for (const PersistLog::Call &call : std::as_const(log->calls))
        call.done(SyncError());
    QTRY_COMPARE_WITH_TIMEOUT(t1->state(), Transaction::Completed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(log->callsFor(t2->id()), 1, Timeout);
    log->calls.constLast().done(SyncError()); // t2's, when it came only now
    QTRY_COMPARE_WITH_TIMEOUT(t2->state(), Transaction::Completed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(t3->state(), Transaction::Completed, Timeout);
    QCOMPARE(item("a").value(s("title")).toString(), s("One"));
    QCOMPARE(item("a").value(s("done")).toBool(), true);
    QCOMPARE(item("b").value(s("title")).toString(), s("Two"));
}

void tst_Transactions::mergeFunctionPutsPendingChangesOnANewSyncedState()
{
    // A counter: a pending change is put back on a new synced state as an increment.
    DO(seed(QVariantMap { { s("id"), s("a") }, { s("title"), s("Milk") }, { s("note"), 5 } }));
    auto merges = std::make_shared<int>(0);
    m_todos->setMergeFunction([merges](const std::optional<QJsonObject> &synced,
                                       const QList<MutationRecord> &pending)
                                      -> std::optional<QJsonObject> {
        ++*merges;
        if (!synced)
            return synced;
        QJsonObject row = *synced;
        for (const MutationRecord &m : pending) {
            for (auto it = m.changes.constBegin(); it != m.changes.constEnd(); ++it) {
                if (it.key() == s("note")) {
                    const int delta = it.value().toInt() - m.original.value(it.key()).toInt();
                    row.insert(it.key(), row.value(it.key()).toInt() + delta);
                } else {
                    row.insert(it.key(), it.value());
                }
            }
        }
        return row;
    });
    auto log = std::make_shared<PersistLog>(); // the test answers
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->update(s("a"), changes("note", 6)); // +1
    QVERIFY(t);
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 1, Timeout);
    QCOMPARE(item("a").value(s("note")).toInt(), 6);

    // Another client counted +2 meanwhile.
    m_backend->emitUpdate(s("todos"),
                          QVariantMap { { s("id"), s("a") }, { s("title"), s("Milk") },
                                        { s("note"), 7 } });
    const int before = *merges;
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Persisting);
    if (ordered()) {
        // Locked: the pulled state waits for t to end.
        QCOMPARE(item("a").value(s("note")).toInt(), 6);
    } else {
        QVERIFY(*merges > before);
        QCOMPARE(item("a").value(s("note")).toInt(), 8);
    }
    log->calls.constFirst().done(SyncError());
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
}

void tst_Transactions::rowsAreSettledWhenTheOutcomeIsSignalled()
{
    // A slot on completed() or failed() reads the models: they show the outcome already.
    DO(seed(fullTodo("a", "Milk", false, "")));
    Transaction *t = m_todos->update(s("a"), changes("title", s("One")));
    QVERIFY(t);
    QVariantMap atCompleted;
    connect(t, &Transaction::completed, this, [&] { atCompleted = item("a"); });
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(atCompleted.value(s("title")).toString(), s("One"));
    QCOMPARE(atCompleted.value(s("pendingTransactions")).toInt(), 0);
    QCOMPARE(atCompleted.value(s("isOptimistic")).toBool(), false);
    QCOMPARE(atCompleted.value(s("syncState")).toInt(), int(SyncCollection::Synced));

    m_backend->failNextPersist(refused("no"));
    Transaction *u = m_todos->update(s("a"), changes("title", s("Two")));
    QVERIFY(u);
    QVariantMap atFailed;
    int pendingAtFailed = -1;
    connect(u, &Transaction::failed, this, [&] {
        atFailed = item("a");
        pendingAtFailed = m_todos->pendingCount();
    });
    QTRY_COMPARE_WITH_TIMEOUT(u->state(), Transaction::Failed, Timeout);
    QCOMPARE(atFailed.value(s("title")).toString(), s("One"));
    QCOMPARE(atFailed.value(s("pendingTransactions")).toInt(), 0);
    QCOMPARE(atFailed.value(s("isOptimistic")).toBool(), false);
    QCOMPARE(pendingAtFailed, 0);
}

// ---------------------------------------------------------------------------------------------
// 4. Retries and dead letters

void tst_Transactions::retryableFailureIsRetriedWithBackoff()
{
    m_backend->failNextPersist(retryable("busy 1"));
    m_backend->failNextPersist(retryable("busy 2"));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);
    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, Timeout);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(t->attempts().size(), 3);
    QCOMPARE(t->currentAttempt(), 3);
    QCOMPARE(attemptError(t, 0).message(), s("busy 1"));
    QCOMPARE(attemptError(t, 1).message(), s("busy 2"));
    QVERIFY(!attemptError(t, 2).isError());
    // Exponential: the second wait is longer than the first, whatever the jitter.
    auto wait = [&](int i) {
        return attempt(t, i).value(s("completedAt")).toDateTime().msecsTo(
                attempt(t, i).value(s("retryScheduledFor")).toDateTime());
    };
    QVERIFY(wait(0) >= 7 && wait(0) <= 13); // 10 ms ± 25 %
    QVERIFY(wait(1) >= 15 && wait(1) <= 25); // 20 ms ± 25 %
    // The same mutation id each time; applied once.
    QCOMPARE(timesPushed(mutationId(t)), 3);
    QCOMPARE(m_backend->pushedMutations().size(), 3);
    QCOMPARE(m_backend->version(s("todos"), s("a")), 1);
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced),
                              Timeout);
}

void tst_Transactions::retriesExhaustedEndInFailed_data()
{
    QTest::addColumn<int>("maxRetries"); // -1: the default
    QTest::addColumn<int>("attempts");
    QTest::newRow("by default 4 retries, 5 attempts") << -1 << 5;
    QTest::newRow("2 retries, 3 attempts") << 2 << 3;
    QTest::newRow("no retries, 1 attempt") << 0 << 1;
}

void tst_Transactions::retriesExhaustedEndInFailed()
{
    QFETCH(int, maxRetries);
    QFETCH(int, attempts);
    QCOMPARE(m_engine->retryPolicy()->maxRetries(), 4);
    if (maxRetries >= 0)
        m_engine->retryPolicy()->setMaxRetries(maxRetries);
    for (int i = 0; i < attempts; ++i)
        m_backend->failNextPersist(retryable("busy"));

    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QSignalSpy failed(t, &Transaction::failed);
    QSignalSpy completed(t, &Transaction::completed);
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, Timeout);
    QCOMPARE(t->state(), Transaction::Failed);
    QCOMPARE(t->attempts().size(), attempts);
    QCOMPARE(t->currentAttempt(), attempts);
    QCOMPARE(t->error().code(), SyncError::Network);
    for (int i = 0; i < attempts - 1; ++i)
        QVERIFY(attempt(t, i).value(s("retryScheduledFor")).toDateTime().isValid());
    QVERIFY(!attempt(t, attempts - 1).value(s("retryScheduledFor")).toDateTime().isValid());
    QVERIFY(!t->nextRetryAt().isValid());
    QCOMPARE(timesPushed(mutationId(t)), attempts);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, Timeout);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { t });

    // It stays failed: no further attempt, no second signal.
    DO(runOnce());
    QCOMPARE(timesPushed(mutationId(t)), attempts);
    QCOMPARE(failed.size(), 1);
    QCOMPARE(completed.size(), 0);
    QVERIFY(!m_backend->contains(s("todos"), s("a")));
}

void tst_Transactions::nonRetryableFailureFailsAtOnce_data()
{
    QTest::addColumn<SyncError>("error");
    QTest::addColumn<bool>("wholeRequest"); // failNextRequest instead of failNextPersist
    QTest::newRow("server validation error") << refused("title too long") << false;
    QTest::newRow("403 forbidden")
            << SyncError(SyncError::Forbidden, s("not yours")).setHttpStatus(403) << false;
    QTest::newRow("a retryable kind marked not retryable")
            << SyncError(SyncError::Network, s("give up")).setRetryable(false) << false;
    QTest::newRow("403 for the whole request")
            << SyncError(SyncError::Forbidden, s("not yours")).setHttpStatus(403) << true;
}

void tst_Transactions::nonRetryableFailureFailsAtOnce()
{
    QFETCH(SyncError, error);
    QFETCH(bool, wholeRequest);
    if (wholeRequest)
        m_backend->failNextRequest(error, TestBackend::PushRequests);
    else
        m_backend->failNextPersist(error);
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QSignalSpy failed(t, &Transaction::failed);
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, Timeout);
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(t->currentAttempt(), 1);
    QCOMPARE(t->error().code(), error.code());
    QCOMPARE(t->error().httpStatus(), error.httpStatus());
    QVERIFY(!t->error().isRetryable());
    QVERIFY(!attempt(t, 0).value(s("retryScheduledFor")).toDateTime().isValid());
    DO(runOnce());
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(timesPushed(mutationId(t)), wholeRequest ? 0 : 1);
    QCOMPARE(failed.size(), 1);
}

void tst_Transactions::retryPolicyChangesTakeEffect()
{
    RetryPolicy *policy = m_engine->retryPolicy();
    QSignalSpy changed(policy, &RetryPolicy::changed);
    policy->setJitter(0);
    policy->setMultiplier(3);
    policy->setInitialDelayMs(40);
    policy->setMaxDelayMs(150);
    QCOMPARE(changed.size(), 4);
    for (int i = 0; i < 3; ++i)
        m_backend->failNextPersist(retryable("busy"));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(t->attempts().size(), 4);
    QList<qint64> waits;
    for (int i = 0; i < 3; ++i) {
        waits.append(attempt(t, i).value(s("completedAt")).toDateTime().msecsTo(
                attempt(t, i).value(s("retryScheduledFor")).toDateTime()));
    }
    QCOMPARE(waits, (QList<qint64> { 40, 120, 150 })); // 40 × 3^(n-1), at most 150

    // No retries at all from now on.
    policy->setMaxRetries(0);
    m_backend->failNextPersist(retryable("busy"));
    Transaction *u = m_todos->insert(todo("b", "Tea"));
    QVERIFY(u);
    QTRY_COMPARE_WITH_TIMEOUT(u->state(), Transaction::Failed, Timeout);
    QCOMPARE(u->attempts().size(), 1);
}

void tst_Transactions::offlineUsesUpNoAttempts()
{
    m_engine->retryPolicy()->setMaxRetries(0); // a counted failure would end it
    m_backend->setOffline(true);
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    StateLog states = recordStates(t);
    QSignalSpy failed(t, &Transaction::failed);
    // Two pushes while offline (the second after the run's own backoff).
    QTRY_VERIFY_WITH_TIMEOUT(m_backend->pushRequestCount() >= 2, Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    QCOMPARE(t->state(), Transaction::Pending);
    QVERIFY(t->attempts().isEmpty());
    QCOMPARE(t->currentAttempt(), 0);
    QVERIFY(!t->nextRetryAt().isValid());
    QVERIFY(!m_engine->status()->isOnline());
    QCOMPARE(failed.size(), 0);
    QVERIFY(states->size() >= 4);
    QVERIFY(!states->contains(Transaction::Failed));
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk")); // still shown
    QVERIFY(m_backend->pushedMutations().isEmpty());

    m_backend->setOffline(false);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(t->currentAttempt(), 1);
    QCOMPARE(m_backend->pushedMutations().size(), 1);
    QVERIFY(m_backend->contains(s("todos"), s("a")));
    QTRY_VERIFY_WITH_TIMEOUT(m_engine->status()->isOnline(), Timeout);
}

void tst_Transactions::deadLetterIsRetried()
{
    m_backend->failNextPersist(refused("no"));
    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    const QString id = t->id();
    const QString mutation = mutationId(t);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Failed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, Timeout);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { t.data() });

    // Dead letters survive a restart.
    DO(runOnce());
    DO(reopen());
    QVERIFY(t.isNull());
    Transaction *dead = m_engine->transaction(id);
    QVERIFY(dead);
    QCOMPARE(dead->state(), Transaction::Failed);
    QCOMPARE(dead->error().code(), SyncError::Validation);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { dead });
    QCOMPARE(m_engine->status()->failedCount(), 1);
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);

    // retry(): the change shows again at once and goes out again.
    QSignalSpy completed(dead, &Transaction::completed);
    QVERIFY(m_engine->retry(id));
    QCOMPARE(dead->state(), Transaction::Pending);
    QVERIFY(!dead->error().isError());
    QCOMPARE(dead->currentAttempt(), 0);
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), true);
    QVERIFY(m_engine->deadLetters().isEmpty());
    QCOMPARE(m_engine->status()->failedCount(), 0);
    QCOMPARE(m_engine->status()->pendingCount(), 1);

    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, Timeout);
    QCOMPARE(dead->attempts().size(), 2); // the history stays
    QCOMPARE(dead->currentAttempt(), 1);
    QCOMPARE(timesPushed(mutation), 2);
    QCOMPARE(m_backend->record(s("todos"), s("a")).value(s("title")).toString(), s("Milk"));
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced),
                              Timeout);
    QVERIFY(!m_engine->retry(id)); // not failed any more
}

void tst_Transactions::deadLetterIsDiscarded()
{
    m_backend->failNextPersist(refused("no"));
    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    const QString id = t->id();
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Failed, Timeout);
    QVERIFY(m_history->indexOf(id) >= 0);
    QSignalSpy removed(m_engine.get(), &SyncEngine::transactionRemoved);
    QList<QVariantMap> events;
    connect(m_engine.get(), &SyncEngine::transactionEvent, this,
            [&](const QVariantMap &e) { events.append(e); });

    QVERIFY(m_engine->discard(id));
    QCOMPARE(removed.size(), 1);
    QCOMPARE(removed.constFirst().constFirst().toString(), id);
    QCOMPARE(events.size(), 1);
    QCOMPARE(events.constFirst().value(s("type")).toString(), s("discarded"));
    QCOMPARE(events.constFirst().value(s("transactionId")).toString(), id);
    QVERIFY(m_engine->deadLetters().isEmpty());
    QCOMPARE(m_engine->status()->failedCount(), 0);
    for (Transaction *h : m_engine->transactionHistory())
        QVERIFY(h->id() != id);
    QCOMPARE(m_history->indexOf(id), -1);
    QTRY_VERIFY_WITH_TIMEOUT(t.isNull(), Timeout); // deleted later
    QVERIFY(!m_engine->discard(id));
    QVERIFY(!m_engine->retry(id));
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);

    // Gone from the database too.
    DO(runOnce());
    DO(reopen());
    QVERIFY(!m_engine->transaction(id));
    QVERIFY(m_engine->transactionHistory().isEmpty());
    QVERIFY(m_engine->deadLetters().isEmpty());
    QCOMPARE(m_engine->status()->failedCount(), 0);
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);
    DO(runOnce());
    QCOMPARE(m_backend->pushedMutations().size(), 1);
}

void tst_Transactions::retryAndDiscardRefuseWhatIsNotADeadLetter()
{
    Transaction *done = m_todos->insert(todo("a", "Milk"));
    QVERIFY(done);
    QTRY_COMPARE_WITH_TIMEOUT(done->state(), Transaction::Completed, Timeout);
    QVERIFY(!m_engine->retry(done->id()));
    QVERIFY(!m_engine->discard(done->id()));
    QCOMPARE(done->state(), Transaction::Completed);

    m_backend->setOffline(true);
    Transaction *pending = m_todos->insert(todo("b", "Tea"));
    QVERIFY(pending);
    QVERIFY(!m_engine->retry(pending->id()));
    QVERIFY(!m_engine->discard(pending->id()));
    QCOMPARE(pending->state(), Transaction::Pending);
    QVERIFY(m_engine->transactionHistory().contains(pending));

    QVERIFY(!m_engine->retry(s("no-such-transaction")));
    QVERIFY(!m_engine->discard(s("no-such-transaction")));
    QVERIFY(!m_engine->retry(QString()));
    QVERIFY(!m_engine->discard(QString()));
}

// ---------------------------------------------------------------------------------------------
// 5. Queue limit

void tst_Transactions::fullQueueRejectsNewChanges()
{
    m_backend->setOffline(true);
    QSignalSpy limitChanged(m_engine.get(), &SyncEngine::maxQueueSizeChanged);
    m_engine->setMaxQueueSize(3);
    QCOMPARE(m_engine->maxQueueSize(), 3);
    QCOMPARE(limitChanged.size(), 1);
    QList<Transaction *> accepted;
    for (const char *key : { "a", "b", "c" }) {
        Transaction *t = m_todos->insert(todo(key, key));
        QVERIFY(t);
        accepted.append(t);
    }
    QSignalSpy engineErrors(m_engine.get(), &SyncEngine::errorOccurred);
    QSignalSpy todosErrors(m_todos.get(), &SyncCollection::errorOccurred);
    QSignalSpy added(m_engine.get(), &SyncEngine::transactionAdded);

    // Full: the fourth is refused with QueueFull and nothing of it is stored.
    QVERIFY(!m_todos->insert(todo("d", "d")));
    QCOMPARE(todosErrors.size(), 1);
    QCOMPARE(todosErrors.constFirst().constFirst().value<SyncError>().code(), SyncError::QueueFull);
    QCOMPARE(engineErrors.constLast().constFirst().value<SyncError>().code(), SyncError::QueueFull);
    QVERIFY(!m_todos->update(s("a"), changes("title", s("A2"))));
    QCOMPARE(todosErrors.constLast().constFirst().value<SyncError>().code(), SyncError::QueueFull);
    Transaction *explicitOne = m_engine->begin();
    QCOMPARE(explicitOne->insert(s("projects"), QVariantMap { { s("id"), s("p1") } }), s("p1"));
    QVERIFY(!explicitOne->commit());
    QCOMPARE(explicitOne->error().code(), SyncError::QueueFull);
    QCOMPARE(added.size(), 0);
    QCOMPARE(m_todos->rowCount(), 3);
    QCOMPARE(m_todos->indexOfKey(s("d")), -1);
    QCOMPARE(item("a").value(s("title")).toString(), s("a"));
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(m_engine->transactionHistory(), accepted);
    QCOMPARE(m_engine->status()->pendingCount(), 3);
    for (Transaction *t : std::as_const(accepted))
        QVERIFY(!t->isFinished());

    // Once they went out, changes are accepted again.
    m_backend->setOffline(false);
    for (Transaction *t : std::as_const(accepted))
        QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(m_backend->records(s("todos")).size(), 3);
    Transaction *d = m_todos->insert(todo("d", "d"));
    QVERIFY(d);
    QTRY_COMPARE_WITH_TIMEOUT(d->state(), Transaction::Completed, Timeout);
    QCOMPARE(m_backend->pushedMutations().size(), 4);
    QVERIFY(m_backend->records(s("projects")).isEmpty());

    // Dead letters do not count.
    m_engine->setMaxQueueSize(1);
    m_backend->failNextPersist(refused("no"));
    Transaction *x = m_todos->insert(todo("x", "x"));
    QVERIFY(x);
    QTRY_COMPARE_WITH_TIMEOUT(x->state(), Transaction::Failed, Timeout);
    Transaction *y = m_todos->insert(todo("y", "y"));
    QVERIFY(y);
    QTRY_COMPARE_WITH_TIMEOUT(y->state(), Transaction::Completed, Timeout);
}

// ---------------------------------------------------------------------------------------------
// 6. Recovery

void tst_Transactions::pendingTransactionsResumeOnceAfterRestart()
{
    m_backend->setOffline(true);
    QStringList ids;
    QStringList mutations;
    for (const char *key : { "a", "b" }) {
        Transaction *t = m_todos->insert(todo(key, key));
        QVERIFY(t);
        ids.append(t->id());
        mutations += mutationIds(t);
    }
    Transaction *t = m_engine->begin();
    t->insert(s("projects"), project("p1", "Home"));
    t->insert(s("todos"), todo("c", "c"));
    QVERIFY(t->commit());
    ids.append(t->id());
    mutations += mutationIds(t);
    QCOMPARE(mutations.size(), 4);
    QTRY_VERIFY_WITH_TIMEOUT(m_backend->pushRequestCount() >= 1, Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);

    closeEngine();
    m_backend->setOffline(false);
    DO(openEngine());
    // Loaded as they were, before anything is sent.
    QCOMPARE(m_engine->transactions().size(), 3);
    for (const QString &id : std::as_const(ids)) {
        Transaction *r = m_engine->transaction(id);
        QVERIFY(r);
        QCOMPARE(r->state(), Transaction::Pending);
        QVERIFY(r->attempts().isEmpty()); // offline tries left no attempt behind
    }
    QCOMPARE(m_todos->rowCount(), 3);
    QCOMPARE(m_projects->rowCount(), 1);

    for (const QString &id : std::as_const(ids))
        QTRY_COMPARE_WITH_TIMEOUT(m_engine->transaction(id)->state(), Transaction::Completed,
                                  Timeout);
    // Each mutation reached the server exactly once, and nothing else did.
    for (const QString &m : std::as_const(mutations))
        QCOMPARE(timesPushed(m), 1);
    QCOMPARE(m_backend->pushedMutations().size(), 4);
    DO(runOnce());
    DO(runOnce());
    QCOMPARE(m_backend->pushedMutations().size(), 4);
    QCOMPARE(m_backend->records(s("todos")).size(), 3);
    QVERIFY(m_backend->contains(s("projects"), s("p1")));
    QCOMPARE(m_engine->status()->pendingCount(), 0);
}

void tst_Transactions::awaitingSyncAtCloseIsCompletedAfterRestart()
{
    auto log = succeeding();
    m_todos->setAwaitSync(true);
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    const QString id = t->id();
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::PersistedAwaitingSync, Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    QCOMPARE(log->calls.size(), 1);

    DO(reopen());
    auto again = succeeding();
    m_todos->setAwaitSync(true);
    m_todos->setPersistHandler(handlerFor(again));
    // Its persist succeeded before the app closed: taken as persisted.
    Transaction *r = m_engine->transaction(id);
    QVERIFY(r);
    QCOMPARE(r->state(), Transaction::Completed);
    QVERIFY(m_engine->transactions().isEmpty());
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
    DO(runOnce());
    QCOMPARE(again->calls.size(), 0); // not persisted again
    QCOMPARE(r->state(), Transaction::Completed);
    QVERIFY(m_backend->pushedMutations().isEmpty());
}

void tst_Transactions::attemptInFlightAtCloseResumesWithTheSameIds_data()
{
    QTest::addColumn<bool>("destroy");
    QTest::newRow("the engine is closed and opened again") << false;
    QTest::newRow("the engine is destroyed and made again") << true;
}

void tst_Transactions::attemptInFlightAtCloseResumesWithTheSameIds()
{
    QFETCH(bool, destroy);
    m_backend->setNetworkDelay(1000);
    QSignalSpy answers(m_backend.get(), &TestBackend::pushed);
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    const QString id = t->id();
    const QString mutation = mutationId(t);
    // The server applied it; the answer is still on its way when the app stops.
    QTRY_COMPARE_WITH_TIMEOUT(timesPushed(mutation), 1, Timeout);
    QCOMPARE(t->state(), Transaction::Persisting);
    QVERIFY(m_backend->contains(s("todos"), s("a")));
    // A later change to the item waits for it (ordered) or for the next request (parallel).
    Transaction *later = m_todos->update(s("a"), changes("title", s("Two")));
    QVERIFY(later);
    const QString laterId = later->id();
    const QString laterMutation = mutationId(later);
    QCOMPARE(later->state(), ordered() ? Transaction::Queued : Transaction::Pending);

    if (destroy) {
        closeEngine();
        DO(openEngine());
    } else {
        m_engine->close();
        QCOMPARE(m_todos->rowCount(), 0);
        QVERIFY(m_engine->open());
    }
    m_backend->setNetworkDelay(0);
    Transaction *r = m_engine->transaction(id);
    QVERIFY(r);
    QCOMPARE(r->state(), Transaction::Pending);
    QCOMPARE(r->attempts().size(), 1); // the interrupted attempt counts, closed as cancelled
    QCOMPARE(r->currentAttempt(), 1);
    QVERIFY(attempt(r, 0).value(s("completedAt")).toDateTime().isValid());
    QCOMPARE(attemptError(r, 0).code(), SyncError::Cancelled);
    QCOMPARE(item("a").value(s("title")).toString(), s("Two"));
    Transaction *r2 = m_engine->transaction(laterId);
    QVERIFY(r2);
    QVERIFY(r2->attempts().isEmpty());

    QTRY_COMPARE_WITH_TIMEOUT(r->state(), Transaction::Completed, Timeout);
    QCOMPARE(r->attempts().size(), 2);
    QCOMPARE(timesPushed(mutation), 2); // the same mutation id again ...
    QCOMPARE(m_backend->currentVersion(), 2); // ... applied once; then the later change
    QTRY_COMPARE_WITH_TIMEOUT(r2->state(), Transaction::Completed, Timeout);
    QCOMPARE(timesPushed(laterMutation), 1);
    QStringList ids;
    for (const PushMutation &m : m_backend->pushedMutations())
        ids.append(m.id);
    QCOMPARE(ids, (QStringList { mutation, mutation, laterMutation }));
    QCOMPARE(m_backend->record(s("todos"), s("a")).value(s("title")).toString(), s("Two"));
    // The first answer arrives for an engine that moved on: it changes nothing.
    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 2, Timeout);
    DO(runOnce());
    QCOMPARE(r->state(), Transaction::Completed);
    QCOMPARE(r->attempts().size(), 2);
    QCOMPARE(timesPushed(mutation), 2);
    QCOMPARE(timesPushed(laterMutation), 1);
    QCOMPARE(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(item("a").value(s("title")).toString(), s("Two"));
    QCOMPARE(item("a").value(s("version")).toLongLong(), 2);
}

// ---------------------------------------------------------------------------------------------
// 7. Custom persist

void tst_Transactions::customPersistIsAnsweredLater()
{
    auto log = std::make_shared<PersistLog>(); // the test answers
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(fullTodo("a", "Milk", false, ""));
    QVERIFY(t);
    StateLog states = recordStates(t);
    QSignalSpy completed(t, &Transaction::completed);
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 1, Timeout);
    const PersistLog::Call call = log->calls.constFirst();
    QCOMPARE(call.transaction.data(), t);
    QCOMPARE(call.attempt, 1);
    QCOMPARE(call.state, Transaction::Persisting);
    QCOMPARE(t->mutations().constFirst().toMap().value(s("changes")).toMap().value(s("title")),
             QVariant(s("Milk")));
    QCOMPARE(t->state(), Transaction::Persisting); // until answered

    call.done(SyncError());
    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, Timeout);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting,
                                                  Transaction::Completed }));
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(log->calls.size(), 1);
    // The handler replaced the transport for this collection.
    QVERIFY(m_backend->pushedMutations().isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("isOptimistic")).toBool(), false, Timeout);
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced));

    // The other collection still goes through the transport.
    Transaction *p = m_projects->insert(project("p1", "H"));
    QVERIFY(p);
    QTRY_COMPARE_WITH_TIMEOUT(p->state(), Transaction::Completed, Timeout);
    QVERIFY(m_backend->contains(s("projects"), s("p1")));
    QCOMPARE(log->calls.size(), 1);
}

void tst_Transactions::customPersistFailuresAreRetriedOrFinal()
{
    auto log = std::make_shared<PersistLog>();
    log->answer = [](Transaction *t) {
        if (t->key() == s("a")) // fails once, then works
            return t->currentAttempt() == 1 ? retryable("try later") : SyncError();
        if (t->key() == s("b"))
            return refused("never");
        return SyncError(SyncError::Network, s("give up")).setRetryable(false);
    };
    m_todos->setPersistHandler(handlerFor(log));

    Transaction *a = m_todos->insert(todo("a", "Milk"));
    QVERIFY(a);
    QTRY_COMPARE_WITH_TIMEOUT(a->state(), Transaction::Completed, Timeout);
    QCOMPARE(log->callsFor(a->id()), 2);
    QCOMPARE(a->attempts().size(), 2);
    QCOMPARE(attemptError(a, 0).message(), s("try later"));
    QVERIFY(attempt(a, 0).value(s("retryScheduledFor")).toDateTime().isValid());
    QCOMPARE(log->calls.constLast().attempt, 2);

    Transaction *b = m_todos->insert(todo("b", "Tea"));
    Transaction *c = m_todos->insert(todo("c", "Jam"));
    QVERIFY(b && c);
    QTRY_COMPARE_WITH_TIMEOUT(b->state(), Transaction::Failed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(c->state(), Transaction::Failed, Timeout);
    QCOMPARE(log->callsFor(b->id()), 1);
    QCOMPARE(log->callsFor(c->id()), 1);
    QCOMPARE(b->error().code(), SyncError::Validation);
    QCOMPARE(c->error().message(), s("give up"));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("b")), -1, Timeout);
    QCOMPARE(m_todos->indexOfKey(s("c")), -1);
    QVERIFY(m_todos->indexOfKey(s("a")) >= 0);
    QVERIFY(m_backend->pushedMutations().isEmpty());
}

void tst_Transactions::customPersistAnsweredTwiceOrLateIsHarmless()
{
    auto log = std::make_shared<PersistLog>();
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    StateLog states = recordStates(t);
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 1, Timeout);
    log->calls.constFirst().done(SyncError());
    log->calls.constFirst().done(refused("second answer"));
    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, Timeout);
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(completed.size(), 1);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting,
                                                  Transaction::Completed }));
    QCOMPARE(log->calls.size(), 1);

    // An answer to an attempt that a restart cut short is ignored; the new attempt decides.
    Transaction *u = m_todos->insert(todo("b", "Tea"));
    QVERIFY(u);
    const QString id = u->id();
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 2, Timeout);
    const SyncEngine::PersistCallback stale = log->calls.constLast().done;
    m_engine->close();
    QVERIFY(m_engine->open());
    Transaction *r = m_engine->transaction(id);
    QVERIFY(r);
    QCOMPARE(r->state(), Transaction::Pending);
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 3, Timeout);
    QCOMPARE(log->calls.constLast().id, id);
    QCOMPARE(log->calls.constLast().attempt, 2);
    QSignalSpy rFailed(r, &Transaction::failed);
    stale(refused("stale"));
    DO(runOnce()); // the stale answer has been delivered by now
    QCOMPARE(r->state(), Transaction::Persisting);
    QCOMPARE(rFailed.size(), 0);
    log->calls.constLast().done(SyncError());
    QTRY_COMPARE_WITH_TIMEOUT(r->state(), Transaction::Completed, Timeout);
    QCOMPARE(rFailed.size(), 0);
}

void tst_Transactions::customPersistWorksWithoutATransport()
{
    DO(reopen(false));
    QVERIFY(!m_engine->transport());
    auto log = std::make_shared<PersistLog>();
    log->answer = [](Transaction *t) {
        return t->currentAttempt() == 1 ? retryable("try later") : SyncError();
    };
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(log->calls.size(), 2);
    QCOMPARE(t->attempts().size(), 2);
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
    // A collection without a handler has nowhere to send its changes: they wait, unfailed.
    Transaction *p = m_projects->insert(QVariantMap { { s("id"), s("p1") } });
    QVERIFY(p);
    DO(runOnce());
    QCOMPARE(p->state(), Transaction::Pending);
    QVERIFY(p->attempts().isEmpty());
    QVERIFY(m_backend->pushedMutations().isEmpty());
    QCOMPARE(m_backend->pushRequestCount(), 0);
}

// ---------------------------------------------------------------------------------------------
// 8. Await-sync

void tst_Transactions::awaitSyncThroughTheTransportCompletesInTheSameRun()
{
    m_todos->setAwaitSync(true);
    QVERIFY(m_todos->awaitSync());
    QVERIFY(m_engine->awaitSync(s("todos")));
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    int runs = 0;
    connect(m_engine.get(), &SyncEngine::syncStarted, this, [&] { ++runs; });
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QList<int> runAt;
    QList<bool> syncingAt;
    StateLog states = recordStates(t);
    connect(t, &Transaction::stateChanged, this, [&] {
        runAt.append(runs);
        syncingAt.append(m_engine->status()->isSyncing());
    });
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting,
                                                  Transaction::PersistedAwaitingSync,
                                                  Transaction::Completed }));
    // Persisted by the push, completed by the pull of the same run.
    QCOMPARE(runAt.at(1), runAt.at(2));
    QCOMPARE(syncingAt, (QList<bool> { true, true, true }));
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(item("a").value(s("version")).toLongLong(), m_backend->version(s("todos"), s("a")));
}

void tst_Transactions::awaitSyncWithACustomPersistWaitsForMatchingFields()
{
    auto log = succeeding();
    m_todos->setAwaitSync(true);
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(fullTodo("a", "Milk", false, ""));
    QVERIFY(t);
    QSignalSpy completed(t, &Transaction::completed);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::PersistedAwaitingSync, Timeout);
    QCOMPARE(t->attempts().size(), 1);
    QVERIFY(attempt(t, 0).value(s("completedAt")).toDateTime().isValid());

    // Sync runs that do not bring the change back leave it waiting.
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::PersistedAwaitingSync);
    m_backend->emitUpdate(s("todos"), fullTodo("a", "Not yet", false, ""));
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::PersistedAwaitingSync);
    QCOMPARE(completed.size(), 0);

    // The backend brings the fields as the transaction set them: completed.
    m_backend->emitUpdate(s("todos"), fullTodo("a", "Milk", false, ""));
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(completed.size(), 1);
    QCOMPARE(log->calls.size(), 1);
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
}

// ---------------------------------------------------------------------------------------------
// 9. Monitoring

void tst_Transactions::monitoringSignalsFollowEveryStep()
{
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    QSignalSpy added(m_engine.get(), &SyncEngine::transactionAdded);
    QSignalSpy changed(m_engine.get(), &SyncEngine::transactionChanged);
    QSignalSpy stateChanged(m_engine.get(), &SyncEngine::transactionStateChanged);
    QList<QVariantMap> events;
    connect(m_engine.get(), &SyncEngine::transactionEvent, this,
            [&](const QVariantMap &e) { events.append(e); });
    m_backend->failNextPersist(retryable("busy"));

    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QCOMPARE(added.size(), 1);
    QCOMPARE(added.constFirst().constFirst().value<Transaction *>(), t);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);

    QList<Transaction::State> states;
    for (const QList<QVariant> &args : std::as_const(stateChanged)) {
        QCOMPARE(args.at(0).toString(), t->id());
        states.append(args.at(1).value<Transaction::State>());
    }
    QCOMPARE(states, (QList<Transaction::State> { Transaction::Persisting, Transaction::Pending,
                                                 Transaction::Persisting,
                                                 Transaction::Completed }));
    QVERIFY(changed.size() >= states.size());
    for (const QList<QVariant> &args : std::as_const(changed))
        QCOMPARE(args.at(0).value<Transaction *>(), t);

    QStringList types;
    for (const QVariantMap &e : std::as_const(events)) {
        types.append(e.value(s("type")).toString());
        QCOMPARE(e.value(s("transactionId")).toString(), t->id());
        QVERIFY(e.value(s("at")).toDateTime().isValid());
        QCOMPARE(e.value(s("stateName")).toString(),
                 QString::fromLatin1(QMetaEnum::fromType<Transaction::State>().valueToKey(
                         e.value(s("state")).toInt())));
    }
    QCOMPARE(types, (QStringList { s("created"), s("attemptStarted"), s("stateChanged"),
                                   s("retryScheduled"), s("stateChanged"), s("attemptStarted"),
                                   s("stateChanged"), s("stateChanged") }));
    QCOMPARE(events.at(0).value(s("state")).toInt(), int(Transaction::Pending));
    QCOMPARE(events.at(0).value(s("attempt")).toInt(), 0);
    QCOMPARE(events.at(1).value(s("attempt")).toInt(), 1);
    QCOMPARE(events.at(2).value(s("state")).toInt(), int(Transaction::Persisting));
    const QVariantMap retry = events.at(3);
    QCOMPARE(retry.value(s("state")).toInt(), int(Transaction::Pending));
    QCOMPARE(retry.value(s("attempt")).toInt(), 1);
    QCOMPARE(retry.value(s("error")).value<SyncError>().code(), SyncError::Network);
    QCOMPARE(retry.value(s("retryScheduledFor")).toDateTime(),
             attempt(t, 0).value(s("retryScheduledFor")).toDateTime());
    QCOMPARE(events.at(5).value(s("attempt")).toInt(), 2);
    QCOMPARE(events.at(7).value(s("state")).toInt(), int(Transaction::Completed));
    QCOMPARE(events.at(7).value(s("attempt")).toInt(), 2);
    QVERIFY(!events.at(7).contains(s("error")));
    QVERIFY(!events.at(7).contains(s("retryScheduledFor")));

    // A failure: stateChanged to Failed carries the error; a discard is the last event.
    events.clear();
    m_backend->failNextPersist(refused("no"));
    Transaction *u = m_todos->insert(todo("b", "Tea"));
    QVERIFY(u);
    const QString id = u->id();
    QTRY_COMPARE_WITH_TIMEOUT(u->state(), Transaction::Failed, Timeout);
    QCOMPARE(events.constLast().value(s("type")).toString(), s("stateChanged"));
    QCOMPARE(events.constLast().value(s("state")).toInt(), int(Transaction::Failed));
    QCOMPARE(events.constLast().value(s("error")).value<SyncError>().code(), SyncError::Validation);
    QVERIFY(m_engine->discard(id));
    QCOMPARE(events.constLast().value(s("type")).toString(), s("discarded"));
    QCOMPARE(events.constLast().value(s("transactionId")).toString(), id);
}

QTEST_GUILESS_MAIN(tst_Transactions)
#include "tst_transactions.moc"
