// SPDX-License-Identifier: BSD-3-Clause
// Transactions end to end: The ordered and parallel strategies: locks, queues, failure semantics, merges.
// (transactionsfixture.h: the engine, models and backend every test starts with.)
#include "transactionsfixture.h"

using namespace TransactionTests;

class tst_TransactionStrategies : public TransactionsFixture
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data() { addStrategies(); }
    void init() { setUp(); }
    void cleanup() { tearDown(); }

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
};

// ---------------------------------------------------------------------------------------------
// 3. Strategies

void tst_TransactionStrategies::laterChangeToAnItemOnItsWay()
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

void tst_TransactionStrategies::failureForGoodAndTheChangesAfterIt()
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

void tst_TransactionStrategies::serverUpdateToAnItemHeldByATransaction_data()
{
    QTest::addColumn<bool>("awaiting");
    QTest::newRow("held by a transaction awaiting sync") << true;
    QTest::newRow("held by a transaction being persisted") << false;
}

void tst_TransactionStrategies::serverUpdateToAnItemHeldByATransaction()
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

void tst_TransactionStrategies::failingTheMiddleOfThreeFieldEdits()
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

void tst_TransactionStrategies::laterChangeWhileAnEarlierOneWaitsForItsRetry()
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

void tst_TransactionStrategies::rollbackStaysWhenALaterChangeIsPersisted()
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

void tst_TransactionStrategies::persistKeepsAServerChangeThatArrivedWhileItWaited()
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

void tst_TransactionStrategies::aSlowPersistHoldsBackOnlyWhatWaitsForIt()
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

void tst_TransactionStrategies::mergeFunctionPutsPendingChangesOnANewSyncedState()
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

void tst_TransactionStrategies::rowsAreSettledWhenTheOutcomeIsSignalled()
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

QTEST_GUILESS_MAIN(tst_TransactionStrategies)
#include "tst_transactions_strategies.moc"
