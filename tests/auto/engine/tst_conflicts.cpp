// SPDX-License-Identifier: BSD-3-Clause
// Conflicts on push (C1–C5), end to end through a real SyncEngine and its models against
// TestBackend, which decides conflicts with the push rules synq-server uses: each policy for
// update/update, update/delete and delete/update, with the exact final state on the server and
// in the model, the outcome on the transaction and in the run's report, and conflictDetected.
#include "transactionsfixture.h"

#include <synq/conflictmodel.h>
#include <synq/hybridclock.h>

#include <QtCore/QJsonArray>

using namespace TransactionTests;

namespace {

QJsonObject json(const QVariantMap &map)
{
    return QJsonObject::fromVariantMap(map);
}

QVariantMap note(const char *key, const char *title, const QVariantList &tags, int views, int total)
{
    return { { s("id"), s(key) },
             { s("title"), s(title) },
             { s("tags"), tags },
             { s("views"), views },
             { s("total"), total } };
}

} // namespace

class tst_Conflicts : public TransactionsFixture
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data() { addStrategies(); }
    void init() { setUp(); }
    void cleanup() { tearDown(); }

    void serverWinsAdoptsTheServersRecord();
    void serverWinsKeepsTheServersDelete();
    void serverWinsBringsARemovedRowBack();
    void clientWinsSendsTheChangeAgainOnTheServersVersion();
    void clientWinsRecreatesWhatTheServerDeleted();
    void clientWinsRemovesAgain();
    void fieldMergeMergesEachField();
    void customResolverDecides();
    void conflictFreeCollectionIsNeverMerged();
    void rebasedChangeSurvivesARestart();
    void runReportListsEveryOutcome();
    void lastWriteWinsOrdersByHybridClocks_data();
    void lastWriteWinsOrdersByHybridClocks();
    void pulledStampsMoveTheClockOn();
    void manualConflictWaitsForTheApp_data();
    void manualConflictWaitsForTheApp();
    void customResolverThatCannotDecideLeavesItToTheApp();
    void resolvingAnUnknownConflictIsRefused();

private:
    // The server's record of todo `key` changes (silently) while the client is offline with
    // its own change `local`; then the client comes back and syncs once. Returns the
    // transaction of the local change.
    Transaction *conflictOn(const char *key, const std::function<Transaction *()> &local,
                            const std::function<void()> &onServer);
    QVariantMap serverTodo(const char *key) const
    {
        return m_backend->record(s("todos"), s(key)).toVariantMap();
    }
};

Transaction *tst_Conflicts::conflictOn(const char *key, const std::function<Transaction *()> &local,
                                       const std::function<void()> &onServer)
{
    m_backend->setOffline(true);
    Transaction *t = local();
    if (!t)
        return nullptr;
    if (!QTest::qWaitFor([&] { return !m_engine->status()->isSyncing(); }, Timeout))
        return nullptr;
    onServer();
    m_backend->setOffline(false);
    QSignalSpy detected(m_todos.get(), &SyncCollection::conflictDetected);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    m_engine->syncNow();
    QPointer<Transaction> handle(t);
    if (!QTest::qWaitFor([&] { return !finished.isEmpty() && handle && handle->isFinished(); },
                         Timeout))
        return nullptr;
    if (detected.size() != 1 || detected.constFirst().constFirst().toString() != s(key))
        qWarning() << "conflictDetected:" << detected;
    return detected.size() == 1 ? t : nullptr;
}

void tst_Conflicts::serverWinsAdoptsTheServersRecord()
{
    DO(seed(fullTodo("a", "Milk", false, "")));
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->update(s("a"), changes("title", s("Oat milk"))); },
            [&] { m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", true, "")); });
    QVERIFY(t);
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(t->conflictOutcome(), Transaction::AdoptServer);
    QCOMPARE(attemptError(t, 0).code(), SyncError::Conflict);
    QCOMPARE(t->error().code(), SyncError::None);
    QCOMPARE(item("a").value(s("title")).toString(), s("Soy"));
    QCOMPARE(item("a").value(s("done")).toBool(), true);
    QCOMPARE(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(serverTodo("a").value(s("title")).toString(), s("Soy"));
    QCOMPARE(timesPushed(mutationId(t)), 1);
    QVERIFY(m_engine->deadLetters().isEmpty());
}

void tst_Conflicts::serverWinsKeepsTheServersDelete()
{
    DO(seed(fullTodo("a", "Milk", false, "")));
    QSignalSpy removed(m_todos.get(), &QAbstractItemModel::rowsRemoved);
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->update(s("a"), changes("title", s("Oat milk"))); },
            [&] { m_backend->emitDelete(s("todos"), s("a")); });
    QVERIFY(t);
    QCOMPARE(t->conflictOutcome(), Transaction::AdoptServer);
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);
    QCOMPARE(removed.size(), 1);
    QVERIFY(!m_backend->contains(s("todos"), s("a")));
}

void tst_Conflicts::serverWinsBringsARemovedRowBack()
{
    DO(seed(fullTodo("a", "Milk", false, "")));
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->remove(s("a")); },
            [&] {
                m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", false, ""));
            });
    QVERIFY(t);
    QCOMPARE(t->conflictOutcome(), Transaction::AdoptServer);
    // The server's newer edit stands: the row is back, with it.
    QCOMPARE(item("a").value(s("title")).toString(), s("Soy"));
    QVERIFY(m_backend->contains(s("todos"), s("a")));
}

void tst_Conflicts::clientWinsSendsTheChangeAgainOnTheServersVersion()
{
    m_todos->setConflictPolicy(SyncCollection::ClientWins);
    DO(seed(fullTodo("a", "Milk", false, "n")));
    qint64 injected = 0;
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->update(s("a"), changes("title", s("Oat milk"))); },
            [&] {
                injected = m_backend->injectConflict(s("todos"), s("a"),
                                                     fullTodo("a", "Soy", true, "n"));
            });
    QVERIFY(t);
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(t->conflictOutcome(), Transaction::RebaseAndRetry);
    QCOMPARE(t->attempts().size(), 2);
    QCOMPARE(attemptError(t, 0).code(), SyncError::Conflict);
    QCOMPARE(timesPushed(mutationId(t)), 2);
    // The local change (the title) on the server's version: its other change (done) stays.
    const QVariantMap server = serverTodo("a");
    QCOMPARE(server.value(s("title")).toString(), s("Oat milk"));
    QCOMPARE(server.value(s("done")).toBool(), true);
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced),
                              Timeout);
    QCOMPARE(item("a").value(s("title")).toString(), s("Oat milk"));
    QCOMPARE(item("a").value(s("done")).toBool(), true);
    QVERIFY(item("a").value(s("version")).toLongLong() > injected);
    // What the second push carried: only the title, on the server's version.
    const PushMutation again = m_backend->pushedMutations().constLast();
    QCOMPARE(again.op, MutationType::Update);
    QCOMPARE(again.baseVersion, std::optional<qint64>(injected));
    QCOMPARE(again.data, json(changes("title", s("Oat milk"))));
}

void tst_Conflicts::clientWinsRecreatesWhatTheServerDeleted()
{
    m_todos->setConflictPolicy(SyncCollection::ClientWins);
    DO(seed(fullTodo("a", "Milk", false, "")));
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->update(s("a"), changes("title", s("Oat milk"))); },
            [&] { m_backend->emitDelete(s("todos"), s("a")); });
    QVERIFY(t);
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(t->conflictOutcome(), Transaction::RebaseAndRetry);
    QCOMPARE(m_backend->pushedMutations().constLast().op, MutationType::Insert);
    QCOMPARE(serverTodo("a"), fullTodo("a", "Oat milk", false, ""));
    QCOMPARE(item("a").value(s("title")).toString(), s("Oat milk"));
}

void tst_Conflicts::clientWinsRemovesAgain()
{
    m_todos->setConflictPolicy(SyncCollection::ClientWins);
    DO(seed(fullTodo("a", "Milk", false, "")));
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->remove(s("a")); },
            [&] {
                m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", false, ""));
            });
    QVERIFY(t);
    QCOMPARE(t->conflictOutcome(), Transaction::RebaseAndRetry);
    QVERIFY(!m_backend->contains(s("todos"), s("a")));
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);
}

void tst_Conflicts::fieldMergeMergesEachField()
{
    SyncCollection notes(m_engine.get(), s("notes"),
                         { s("title"), s("tags"), s("views"), s("total") });
    QAbstractItemModelTester tester(&notes, QAbstractItemModelTester::FailureReportingMode::QtTest);
    notes.setStrategy(m_strategy);
    notes.setConflictPolicy(SyncCollection::FieldMerge);
    notes.setFieldPolicies({ { s("tags"), int(SyncCollection::FieldPolicy::MergeArrays) },
                             { s("views"), s("Monotonic") },
                             { s("total"), int(SyncCollection::FieldPolicy::ServerDerived) } });
    const qint64 v = m_backend->emitUpdate(s("notes"), note("n", "Milk", { s("a") }, 3, 10));
    QTRY_COMPARE_WITH_TIMEOUT(notes.getByKey(s("n")).value(s("version")).toLongLong(), v, Timeout);

    m_backend->setOffline(true);
    QPointer<Transaction> t
            = notes.update(s("n"),
                           QVariantMap{ { s("title"), s("Oat milk") },
                                        { s("tags"), QVariantList{ s("a"), s("b") } },
                                        { s("views"), 5 },
                                        { s("total"), 99 } });
    QVERIFY(t);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    m_backend->injectConflict(s("notes"), s("n"), note("n", "Milk", { s("a"), s("c") }, 4, 12));
    m_backend->setOffline(false);
    QSignalSpy detected(&notes, &SyncCollection::conflictDetected);
    runOnce();
    QTRY_VERIFY_WITH_TIMEOUT(t && t->isFinished(), Timeout);
    QCOMPARE(detected.size(), 1);
    QCOMPARE(t->conflictOutcome(), Transaction::RebaseAndRetry);
    const QVariantMap expected = note("n", "Oat milk", { s("a"), s("c"), s("b") }, 5, 12);
    QCOMPARE(m_backend->record(s("notes"), s("n")).toVariantMap(), expected);
    QTRY_COMPARE_WITH_TIMEOUT(notes.getByKey(s("n")).value(s("syncState")).toInt(),
                              int(SyncCollection::Synced), Timeout);
    for (const char *field : { "title", "tags", "views", "total" })
        QCOMPARE(notes.getByKey(s("n")).value(s(field)), expected.value(s(field)));
}

void tst_Conflicts::customResolverDecides()
{
    struct Call
    {
        QJsonObject local, server, base;
    };
    QList<Call> calls;
    m_todos->setConflictPolicy(SyncCollection::Custom);
    m_todos->setConflictResolver([&](const QJsonObject &local, const QJsonObject &server,
                                     const QJsonObject &base) -> std::optional<QJsonObject> {
        calls.append({ local, server, base });
        QJsonObject merged = server;
        merged.insert(s("note"),
                      server.value(s("note")).toString() + s("+")
                              + local.value(s("note")).toString());
        return merged;
    });
    DO(seed(fullTodo("a", "Milk", false, "base")));
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->update(s("a"), changes("note", s("mine"))); },
            [&] {
                m_backend->injectConflict(s("todos"), s("a"),
                                          fullTodo("a", "Milk", false, "theirs"));
            });
    QVERIFY(t);
    QCOMPARE(calls.size(), 1);
    QCOMPARE(calls.constFirst().local, json(fullTodo("a", "Milk", false, "mine")));
    QCOMPARE(calls.constFirst().server, json(fullTodo("a", "Milk", false, "theirs")));
    QCOMPARE(calls.constFirst().base, json(fullTodo("a", "Milk", false, "base")));
    QCOMPARE(t->conflictOutcome(), Transaction::RebaseAndRetry);
    QCOMPARE(serverTodo("a").value(s("note")).toString(), s("theirs+mine"));
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("note")).toString(), s("theirs+mine"), Timeout);

    // A resolver that hands back the server's record lets it stand.
    m_todos->setConflictResolver([](const QJsonObject &, const QJsonObject &server,
                                    const QJsonObject &) { return std::optional(server); });
    QPointer<Transaction> u = conflictOn(
            "a", [&] { return m_todos->update(s("a"), changes("title", s("Oat"))); },
            [&] {
                m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", false, ""));
            });
    QVERIFY(u);
    QCOMPARE(u->conflictOutcome(), Transaction::AdoptServer);
    QCOMPARE(item("a").value(s("title")).toString(), s("Soy"));
}

void tst_Conflicts::conflictFreeCollectionIsNeverMerged()
{
    m_todos->setConflictPolicy(SyncCollection::ClientWins);
    m_todos->setConflictFree(true);
    DO(seed(fullTodo("a", "Milk", false, "")));
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->update(s("a"), changes("title", s("Oat milk"))); },
            [&] {
                m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", false, ""));
            });
    QVERIFY(t);
    QCOMPARE(t->conflictOutcome(), Transaction::AdoptServer);
    QCOMPARE(timesPushed(mutationId(t)), 1);
    QCOMPARE(serverTodo("a").value(s("title")).toString(), s("Soy"));
}

void tst_Conflicts::rebasedChangeSurvivesARestart()
{
    m_todos->setConflictPolicy(SyncCollection::ClientWins);
    DO(seed(fullTodo("a", "Milk", false, "")));
    m_backend->setOffline(true);
    Transaction *t = m_todos->update(s("a"), changes("title", s("Oat milk")));
    QVERIFY(t);
    const QString id = t->id();
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    const qint64 serverVersion
            = m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", true, ""));
    m_backend->setOffline(false);
    // The rebased change cannot go out: the network drops right after the conflict.
    connect(m_todos.get(), &SyncCollection::conflictDetected, this,
            [&] { m_backend->setOffline(true); });
    runOnce();
    QTRY_COMPARE_WITH_TIMEOUT(t->conflictOutcome(), Transaction::RebaseAndRetry, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Pending, Timeout); // offline: not sent
    QCOMPARE(item("a").value(s("title")).toString(), s("Oat milk"));
    QCOMPARE(item("a").value(s("done")).toBool(), true); // the server's other change

    DO(reopen());
    Transaction *back = m_engine->transaction(id);
    QVERIFY(back);
    QCOMPARE(back->conflictOutcome(), Transaction::RebaseAndRetry);
    const QVariantMap m = back->mutations().constFirst().toMap();
    QCOMPARE(m.value(s("changes")).toMap(), changes("title", s("Oat milk")));
    QCOMPARE(back->record().mutations.constFirst().baseVersion, serverVersion);
    QCOMPARE(item("a").value(s("title")).toString(), s("Oat milk"));
    QCOMPARE(item("a").value(s("done")).toBool(), true);

    m_backend->setOffline(false);
    runOnce();
    QTRY_COMPARE_WITH_TIMEOUT(back->state(), Transaction::Completed, Timeout);
    QCOMPARE(serverTodo("a"), fullTodo("a", "Oat milk", true, ""));
}

void tst_Conflicts::runReportListsEveryOutcome()
{
    SyncCollection projects(m_engine.get(), s("projects"), { s("name") });
    projects.setConflictPolicy(SyncCollection::ClientWins);
    DO(seed(fullTodo("a", "Milk", false, "")));
    const qint64 v = m_backend->emitUpdate(s("projects"), project("p", "Home"));
    QTRY_COMPARE_WITH_TIMEOUT(projects.getByKey(s("p")).value(s("version")).toLongLong(), v,
                              Timeout);

    m_backend->setOffline(true);
    QPointer<Transaction> t = m_todos->update(s("a"), changes("title", s("Oat milk")));
    QPointer<Transaction> u = projects.update(s("p"), changes("name", s("Work")));
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", false, ""));
    m_backend->injectConflict(s("projects"), s("p"), project("p", "House"));
    m_backend->setOffline(false);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    runOnce();
    QVERIFY(t && u);
    QTRY_VERIFY_WITH_TIMEOUT(t->isFinished() && u->isFinished(), Timeout);
    QVariantMap report;
    for (const QList<QVariant> &args : std::as_const(finished)) {
        if (args.constFirst().toMap().value(s("conflicts")).toInt() > 0)
            report = args.constFirst().toMap();
    }
    QCOMPARE(report.value(s("conflicts")).toInt(), 2);
    QVariantList outcomes = report.value(s("conflictOutcomes")).toList();
    std::sort(outcomes.begin(), outcomes.end(), [](const QVariant &a, const QVariant &b) {
        return a.toMap().value(s("collection")).toString()
                < b.toMap().value(s("collection")).toString();
    });
    const QVariantList expected{
        QVariantMap{ { s("collection"), s("projects") },
                     { s("key"), s("p") },
                     { s("transactionId"), u->id() },
                     { s("outcome"), s("RebaseAndRetry") } },
        QVariantMap{ { s("collection"), s("todos") },
                     { s("key"), s("a") },
                     { s("transactionId"), t->id() },
                     { s("outcome"), s("AdoptServer") } },
    };
    QCOMPARE(outcomes, expected);
    QCOMPARE(report.value(s("failed")).toInt(), 0);
}

void tst_Conflicts::lastWriteWinsOrdersByHybridClocks_data()
{
    // The server's stamp, relative to now (ms), or no stamp at all.
    QTest::addColumn<bool>("serverStamped");
    QTest::addColumn<qint64>("serverOffsetMs");
    QTest::addColumn<bool>("localWins");
    QTest::newRow("the local write is later") << true << qint64(-3600 * 1000) << true;
    QTest::newRow("the server's write is later") << true << qint64(30 * 1000) << false;
    QTest::newRow("a server write without a stamp counts as later") << false << qint64(0) << false;
}

void tst_Conflicts::lastWriteWinsOrdersByHybridClocks()
{
    QFETCH(bool, serverStamped);
    QFETCH(qint64, serverOffsetMs);
    QFETCH(bool, localWins);
    m_todos->setConflictPolicy(SyncCollection::LastWriteWins);
    DO(seed(fullTodo("a", "Milk", false, "")));
    const QString stamp = serverStamped
            ? HybridClock::format({ QDateTime::currentMSecsSinceEpoch() + serverOffsetMs, 0,
                                    s("other-device") })
            : QString();
    QPointer<Transaction> t = conflictOn(
            "a", [&] { return m_todos->update(s("a"), changes("title", s("Oat milk"))); },
            [&] {
                m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", true, ""),
                                          stamp);
            });
    QVERIFY(t);
    // The change went out stamped by this replica's clock.
    const PushMutation first = m_backend->pushedMutations().constFirst();
    const std::optional<HybridClock::Timestamp> local = HybridClock::parse(first.hlc);
    QVERIFY2(local, qPrintable(first.hlc));
    QCOMPARE(t->record().hlc, first.hlc);
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(t->conflictOutcome(),
             localWins ? Transaction::RebaseAndRetry : Transaction::AdoptServer);
    const QVariantMap server = serverTodo("a");
    QCOMPARE(server.value(s("title")).toString(), localWins ? s("Oat milk") : s("Soy"));
    QCOMPARE(server.value(s("done")).toBool(), true); // the server's other change stays
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("title")).toString(), server.value(s("title")),
                              Timeout);
    if (localWins) {
        // Sent again with the same stamp: the write is as old as the user's edit.
        QCOMPARE(m_backend->pushedMutations().constLast().hlc, first.hlc);
    }
    // The next local write is later than both, whatever the device's clock says.
    Transaction *next = m_todos->update(s("a"), changes("note", s("n")));
    QVERIFY(next);
    const auto after = HybridClock::parse(next->record().hlc);
    QVERIFY(after);
    QVERIFY(HybridClock::compare(*after, *local) > 0);
    if (serverStamped && serverOffsetMs < 60 * 1000)
        QVERIFY(HybridClock::compare(*after, *HybridClock::parse(stamp)) > 0);
}

void tst_Conflicts::pulledStampsMoveTheClockOn()
{
    // Another device, its clock 30 s ahead, wrote b; this replica pulls it: its next write is
    // later than that one, so LastWriteWins lets a change made after seeing it win.
    const QString theirs = HybridClock::format(
            { QDateTime::currentMSecsSinceEpoch() + 30 * 1000, 4, s("other-device") });
    const qint64 v = m_backend->injectConflict(s("todos"), s("b"), fullTodo("b", "B", false, ""),
                                               theirs);
    runOnce();
    QTRY_COMPARE_WITH_TIMEOUT(item("b").value(s("version")).toLongLong(), v, Timeout);
    Transaction *t = m_todos->update(s("b"), changes("title", s("B2")));
    QVERIFY(t);
    QVERIFY(HybridClock::compare(*HybridClock::parse(t->record().hlc),
                                 *HybridClock::parse(theirs))
            > 0);
}

void tst_Conflicts::manualConflictWaitsForTheApp_data()
{
    QTest::addColumn<QString>("resolution");
    QTest::addColumn<bool>("restart");
    for (const char *r : { "local", "server", "merged" }) {
        QTest::newRow(r) << s(r) << false;
        QTest::newRow(QByteArray(r) + " after a restart") << s(r) << true;
    }
}

void tst_Conflicts::manualConflictWaitsForTheApp()
{
    QFETCH(QString, resolution);
    QFETCH(bool, restart);
    m_todos->setConflictPolicy(SyncCollection::Manual);
    DO(seed(fullTodo("a", "Milk", false, "base")));
    m_backend->setOffline(true);
    Transaction *t = m_todos->update(s("a"), changes("note", s("mine")));
    QVERIFY(t);
    const QString id = t->id();
    const QString mutation = mutationId(t);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    const qint64 serverVersion = m_backend->injectConflict(s("todos"), s("a"),
                                                           fullTodo("a", "Soy", true, "theirs"));
    m_backend->setOffline(false);
    auto conflicts = std::make_unique<ConflictModel>(m_engine.get());
    auto tester = std::make_unique<QAbstractItemModelTester>(
            conflicts.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy detected(m_todos.get(), &SyncCollection::conflictDetected);
    runOnce();
    QTRY_COMPARE_WITH_TIMEOUT(conflicts->count(), 1, Timeout);
    QCOMPARE(detected.size(), 1);

    // Held: the row keeps the local change and shows the conflict; nothing is sent.
    auto checkHeld = [&] {
        Transaction *held = m_engine->transaction(id);
        QVERIFY(held);
        QCOMPARE(held->state(), Transaction::Pending);
        QCOMPARE(held->conflictOutcome(), Transaction::ManualRequired);
        QCOMPARE(item("a").value(s("note")).toString(), s("mine"));
        QCOMPARE(item("a").value(s("syncState")).toInt(), int(SyncCollection::Conflict));
        QCOMPARE(m_engine->status()->conflictCount(), 1);
        const QVariantMap c = conflicts->get(0);
        QCOMPARE(c.value(s("conflictId")).toString(), mutation);
        QCOMPARE(c.value(s("transactionId")).toString(), id);
        QCOMPARE(c.value(s("collection")).toString(), s("todos"));
        QCOMPARE(c.value(s("key")).toString(), s("a"));
        QCOMPARE(c.value(s("local")).toMap(), fullTodo("a", "Milk", false, "mine"));
        QCOMPARE(c.value(s("server")).toMap(), fullTodo("a", "Soy", true, "theirs"));
        QCOMPARE(c.value(s("base")).toMap(), fullTodo("a", "Milk", false, "base"));
        QCOMPARE(c.value(s("serverVersion")).toLongLong(), serverVersion);
        QVERIFY(c.value(s("detectedAt")).toDateTime().isValid());
        QCOMPARE(conflicts->data(conflicts->index(0), ConflictModel::KeyRole).toString(), s("a"));
    };
    DO(checkHeld());
    runOnce();
    QCOMPARE(timesPushed(mutation), 1);
    DO(checkHeld());
    if (restart) {
        tester.reset();
        conflicts.reset();
        DO(reopen());
        conflicts = std::make_unique<ConflictModel>(m_engine.get());
        tester = std::make_unique<QAbstractItemModelTester>(
                conflicts.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(conflicts->count(), 1);
        DO(checkHeld());
        runOnce();
        QCOMPARE(timesPushed(mutation), 1);
    }

    Transaction *held = m_engine->transaction(id);
    QSignalSpy removed(conflicts.get(), &QAbstractItemModel::rowsRemoved);
    QVariantMap expected;
    if (resolution == s("local")) {
        QVERIFY(conflicts->resolveWithLocal(mutation));
        expected = fullTodo("a", "Soy", true, "mine"); // the local change on the server's
    } else if (resolution == s("server")) {
        QVERIFY(conflicts->resolveWithServer(mutation));
        expected = fullTodo("a", "Soy", true, "theirs");
    } else {
        QVERIFY(conflicts->resolveWith(mutation, fullTodo("x", "Both", true, "theirs+mine")));
        expected = fullTodo("a", "Both", true, "theirs+mine"); // the key stays the row's
    }
    QCOMPARE(removed.size(), 1);
    QCOMPARE(conflicts->count(), 0);
    QCOMPARE(m_engine->conflicts(), QVariantList());
    QCOMPARE(m_engine->status()->conflictCount(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(held->state(), Transaction::Completed, Timeout);
    QCOMPARE(held->conflictOutcome(), resolution == s("server") ? Transaction::AdoptServer
                                                                 : Transaction::RebaseAndRetry);
    QCOMPARE(timesPushed(mutation), resolution == s("server") ? 1 : 2);
    QCOMPARE(serverTodo("a"), expected);
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("syncState")).toInt(),
                              int(SyncCollection::Synced), Timeout);
    for (auto it = expected.cbegin(); it != expected.cend(); ++it)
        QCOMPARE(item("a").value(it.key()), it.value());

    // Gone for good: not listed after a restart either.
    tester.reset();
    conflicts.reset();
    DO(reopen());
    QCOMPARE(m_engine->conflicts(), QVariantList());
}

void tst_Conflicts::customResolverThatCannotDecideLeavesItToTheApp()
{
    m_todos->setConflictPolicy(SyncCollection::Custom);
    m_todos->setConflictResolver([](const QJsonObject &, const QJsonObject &,
                                    const QJsonObject &) { return std::optional<QJsonObject>(); });
    DO(seed(fullTodo("a", "Milk", false, "")));
    m_backend->setOffline(true);
    QPointer<Transaction> t = m_todos->remove(s("a"));
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    m_backend->injectConflict(s("todos"), s("a"), fullTodo("a", "Soy", false, ""));
    m_backend->setOffline(false);
    runOnce();
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->conflicts().size(), 1, Timeout);
    QVERIFY(t);
    QCOMPARE(t->conflictOutcome(), Transaction::ManualRequired);
    const QVariantMap c = m_engine->conflicts().constFirst().toMap();
    QVERIFY(c.value(s("local")).isNull()); // a removal
    // The row stays removed while the conflict waits (the local change shows).
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);
    QVERIFY(m_engine->resolveConflictWithLocal(c.value(s("conflictId")).toString()));
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QVERIFY(!m_backend->contains(s("todos"), s("a")));
}

void tst_Conflicts::resolvingAnUnknownConflictIsRefused()
{
    QSignalSpy errors(m_engine.get(), &SyncEngine::errorOccurred);
    QVERIFY(!m_engine->resolveConflictWithServer(s("nope")));
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.constFirst().constFirst().value<SyncError>().code(), SyncError::Validation);
    ConflictModel model(m_engine.get());
    QVERIFY(!model.resolveWith(s("nope"), QVariant(42)));
    QCOMPARE(errors.size(), 2);
    QVERIFY(errors.constLast().constFirst().value<SyncError>().message().contains(
            s("not a JSON object")));
}

QTEST_MAIN(tst_Conflicts)
#include "tst_conflicts.moc"
