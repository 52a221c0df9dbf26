// SPDX-License-Identifier: BSD-3-Clause
// Synq::ConflictResolution: the three-way field merge and what each policy makes of a push
// conflict, as tables; and generated conflicts checking that a merge is deterministic,
// idempotent and never drops a local change its policies keep.

#include <synq/conflictresolution.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QRandomGenerator>
#include <QtTest/QTest>

#include "testprinters.h"

#include <optional>

using namespace Synq;
using namespace Synq::ConflictResolution;

using Record = std::optional<QJsonObject>;

char *toString(const Record &record)
{
    return record ? toString(*record) : qstrdup("(none)");
}

namespace Synq {
char *toString(ConflictOutcome outcome)
{
    return QTest::toString(nameOf(outcome));
}
} // namespace Synq

namespace {

// JSON text of one value; "absent" for a field a record does not have.
QJsonValue value(const char *text)
{
    if (qstrcmp(text, "absent") == 0)
        return QJsonValue(QJsonValue::Undefined);
    const QByteArray wrapped = QByteArray("[") + text + "]";
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(wrapped, &error);
    if (error.error != QJsonParseError::NoError)
        qFatal("bad JSON in a test table: %s", text);
    return document.array().first();
}

QJsonObject record(const char *text)
{
    return QJsonDocument::fromJson(text).object();
}

QJsonObject field(const QJsonValue &v)
{
    QJsonObject object;
    if (!v.isUndefined())
        object.insert(QStringLiteral("f"), v);
    return object;
}

const QJsonObject local { { "title", "local" } };
const QJsonObject server { { "title", "server" } };
const QJsonObject base { { "title", "base" } };

} // namespace

Q_DECLARE_METATYPE(Synq::ConflictResolution::FieldPolicy)
Q_DECLARE_METATYPE(Synq::ConflictResolution::Policy)
Q_DECLARE_METATYPE(Synq::ConflictResolution::Outcome)
Q_DECLARE_METATYPE(Synq::ConflictResolution::ServerState)
Q_DECLARE_METATYPE(Synq::MutationType)

class tst_ConflictResolution : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void mergeField_data();
    void mergeField();
    void mergeFieldsKeepsEachSidesChanges();
    void mergeArrays_data();
    void mergeArrays();
    void larger_data();
    void larger();
    void resolve_data();
    void resolve();
    void rebased_data();
    void rebased();
    void clientWinsMakesTheLocalChangeAgain_data();
    void clientWinsMakesTheLocalChangeAgain();
    void customResolver();
    void generatedMerges_data();
    void generatedMerges();
};

void tst_ConflictResolution::mergeField_data()
{
    QTest::addColumn<FieldPolicy>("policy");
    QTest::addColumn<QString>("local");
    QTest::addColumn<QString>("server");
    QTest::addColumn<QString>("base");
    QTest::addColumn<QString>("expected");

    struct Row
    {
        const char *name;
        FieldPolicy policy;
        const char *local, *server, *base, *expected;
    };
    const FieldPolicy lw = FieldPolicy::LocalWins, sw = FieldPolicy::ServerWins,
                      ma = FieldPolicy::MergeArrays, mo = FieldPolicy::Monotonic,
                      sd = FieldPolicy::ServerDerived;
    const Row rows[] = {
        // Only one side changed: that side, whatever the policy (but ServerDerived, Monotonic).
        { "local changed, LocalWins", lw, "2", "1", "1", "2" },
        { "local changed, ServerWins", sw, "2", "1", "1", "2" },
        { "local changed, MergeArrays", ma, "[1,2]", "[1]", "[1]", "[1,2]" },
        { "server changed, LocalWins", lw, "1", "3", "1", "3" },
        { "server changed, ServerWins", sw, "1", "3", "1", "3" },
        { "server changed, MergeArrays", ma, "[1]", "[1,3]", "[1]", "[1,3]" },
        { "nobody changed", lw, "1", "1", "1", "1" },
        { "both made the same change", sw, "5", "5", "1", "5" },
        // Both changed: the policy decides.
        { "both changed, LocalWins", lw, "\"mine\"", "\"theirs\"", "\"old\"", "\"mine\"" },
        { "both changed, ServerWins", sw, "\"mine\"", "\"theirs\"", "\"old\"", "\"theirs\"" },
        { "both changed arrays, MergeArrays", ma, "[1,2]", "[1,3]", "[1]", "[1,3,2]" },
        { "both changed, MergeArrays, local not an array", ma, "\"x\"", "[3]", "[]", "\"x\"" },
        { "both changed, MergeArrays, server not an array", ma, "[2]", "7", "[]", "[2]" },
        { "both changed, MergeArrays, no base array", ma, "[2]", "[3]", "absent", "[3,2]" },
        // Monotonic: the larger value, whichever side moved it.
        { "Monotonic, both raised", mo, "5", "7", "1", "7" },
        { "Monotonic, local raised higher", mo, "9", "7", "1", "9" },
        { "Monotonic, server lowered", mo, "4", "2", "4", "4" },
        { "Monotonic, local lowered", mo, "2", "4", "4", "4" },
        { "Monotonic, times as ISO strings", mo, "\"2026-01-02T10:00:00Z\"",
          "\"2026-01-01T23:00:00Z\"", "\"2025-12-31T00:00:00Z\"", "\"2026-01-02T10:00:00Z\"" },
        { "Monotonic, a flag once set stays set", mo, "true", "false", "false", "true" },
        { "Monotonic, mixed types: the server's", mo, "\"5\"", "4", "1", "4" },
        { "Monotonic, server added it", mo, "absent", "3", "absent", "3" },
        // ServerDerived: always the server's.
        { "ServerDerived, only local changed", sd, "99", "1", "1", "1" },
        { "ServerDerived, both changed", sd, "99", "5", "1", "5" },
        { "ServerDerived, server dropped it", sd, "99", "absent", "1", "absent" },
        // Absent fields are values of their own; null is not absent.
        { "local added a field", lw, "1", "absent", "absent", "1" },
        { "server added a field", lw, "absent", "1", "absent", "1" },
        { "both added it differently, LocalWins", lw, "1", "2", "absent", "1" },
        { "both added it differently, ServerWins", sw, "1", "2", "absent", "2" },
        { "server removed the field, local untouched", lw, "1", "absent", "1", "absent" },
        { "server removed the field, local changed it", lw, "2", "absent", "1", "2" },
        { "server removed the field, local changed it, ServerWins", sw, "2", "absent", "1",
          "absent" },
        { "local set null, server untouched", lw, "null", "1", "1", "null" },
        { "local set null, server changed, ServerWins", sw, "null", "3", "1", "3" },
        { "objects compare by value", lw, "{\"a\":1}", "{\"a\":1}", "{\"a\":0}", "{\"a\":1}" },
    };
    for (const Row &row : rows) {
        QTest::newRow(row.name) << row.policy << QString::fromUtf8(row.local)
                                << QString::fromUtf8(row.server) << QString::fromUtf8(row.base)
                                << QString::fromUtf8(row.expected);
    }
}

void tst_ConflictResolution::mergeField()
{
    QFETCH(FieldPolicy, policy);
    QFETCH(QString, local);
    QFETCH(QString, server);
    QFETCH(QString, base);
    QFETCH(QString, expected);

    FieldPolicies policies;
    policies.fields.insert(QStringLiteral("f"), policy);
    const QJsonObject merged =
            mergeFields(field(value(local.toUtf8().constData())),
                        field(value(server.toUtf8().constData())),
                        field(value(base.toUtf8().constData())), policies);
    QCOMPARE(merged, field(value(expected.toUtf8().constData())));

    // The fallback decides unnamed fields the same way.
    FieldPolicies fallback;
    fallback.fallback = policy;
    QCOMPARE(mergeFields(field(value(local.toUtf8().constData())),
                         field(value(server.toUtf8().constData())),
                         field(value(base.toUtf8().constData())), fallback),
             merged);
}

void tst_ConflictResolution::mergeFieldsKeepsEachSidesChanges()
{
    // The everyday case: two people edit different fields of one row.
    const QJsonObject base = record(R"({"id":"k","title":"Milk","done":false,"tags":["a"],
                                        "views":3,"total":10})");
    const QJsonObject local = record(R"({"id":"k","title":"Oat milk","done":false,
                                         "tags":["a","b"],"views":5,"total":99,"note":"x"})");
    const QJsonObject server = record(R"({"id":"k","title":"Milk","done":true,
                                          "tags":["a","c"],"views":4,"total":12})");
    FieldPolicies policies;
    policies.fields.insert(QStringLiteral("tags"), FieldPolicy::MergeArrays);
    policies.fields.insert(QStringLiteral("views"), FieldPolicy::Monotonic);
    policies.fields.insert(QStringLiteral("total"), FieldPolicy::ServerDerived);
    QCOMPARE(mergeFields(local, server, base, policies),
             record(R"({"id":"k","title":"Oat milk","done":true,"tags":["a","c","b"],
                        "views":5,"total":12,"note":"x"})"));
}

void tst_ConflictResolution::mergeArrays_data()
{
    QTest::addColumn<QString>("local");
    QTest::addColumn<QString>("server");
    QTest::addColumn<QString>("base");
    QTest::addColumn<QString>("expected");

    QTest::newRow("both appended") << "[1,2]" << "[1,3]" << "[1]" << "[1,3,2]";
    QTest::newRow("both appended the same") << "[1,2]" << "[1,2]" << "[1]" << "[1,2]";
    QTest::newRow("local removed, server appended") << "[]" << "[1,3]" << "[1]" << "[3]";
    QTest::newRow("server removed, local appended") << "[1,2]" << "[]" << "[1]" << "[2]";
    QTest::newRow("both removed") << "[2]" << "[2]" << "[1,2]" << "[2]";
    QTest::newRow("each removed another") << "[2,3]" << "[1,3]" << "[1,2,3]" << "[3]";
    QTest::newRow("server order first, then local's") << "[5,4]" << "[3,2]" << "[]" << "[3,2,5,4]";
    QTest::newRow("server's duplicates kept") << "[1]" << "[1,1]" << "[]" << "[1,1]";
    QTest::newRow("local duplicates added once") << "[2,2]" << "[1]" << "[]" << "[1,2]";
    QTest::newRow("objects by value") << "[{\"a\":1},{\"b\":2}]" << "[{\"a\":1}]" << "[]"
                                      << "[{\"a\":1},{\"b\":2}]";
    QTest::newRow("removed locally and re-added on the server") << "[]" << "[1]" << "[1]"
                                                                << "[]";
}

void tst_ConflictResolution::mergeArrays()
{
    QFETCH(QString, local);
    QFETCH(QString, server);
    QFETCH(QString, base);
    QFETCH(QString, expected);
    QCOMPARE(QJsonValue(ConflictResolution::mergeArrays(value(local.toUtf8()).toArray(),
                                                        value(server.toUtf8()).toArray(),
                                                        value(base.toUtf8()).toArray())),
             value(expected.toUtf8()));
}

void tst_ConflictResolution::larger_data()
{
    QTest::addColumn<QString>("a");
    QTest::addColumn<QString>("b");
    QTest::addColumn<QString>("expected");
    QTest::newRow("numbers") << "3" << "2.5" << "3";
    QTest::newRow("numbers, b larger") << "-1" << "0" << "0";
    QTest::newRow("equal numbers") << "2" << "2" << "2";
    QTest::newRow("strings") << "\"b\"" << "\"ab\"" << "\"b\"";
    QTest::newRow("bools") << "false" << "true" << "true";
    QTest::newRow("absent a") << "absent" << "1" << "1";
    QTest::newRow("absent b") << "1" << "absent" << "1";
    QTest::newRow("both absent") << "absent" << "absent" << "absent";
    QTest::newRow("null and a number: b") << "null" << "1" << "1";
    QTest::newRow("a number and null: b") << "1" << "null" << "null";
    QTest::newRow("arrays: b") << "[9]" << "[1]" << "[1]";
}

void tst_ConflictResolution::larger()
{
    QFETCH(QString, a);
    QFETCH(QString, b);
    QFETCH(QString, expected);
    QCOMPARE(ConflictResolution::larger(value(a.toUtf8()), value(b.toUtf8())),
             value(expected.toUtf8()));
}

void tst_ConflictResolution::resolve_data()
{
    QTest::addColumn<Policy>("policy");
    QTest::addColumn<bool>("conflictFree");
    QTest::addColumn<Record>("local");
    QTest::addColumn<ServerState>("server");
    QTest::addColumn<bool>("localIsLater");
    QTest::addColumn<Outcome>("outcome");
    QTest::addColumn<Record>("record");

    const ServerState live = ServerState::live(server);
    const ServerState deleted = ServerState::deleted();
    const ServerState unknown;
    const Record none;
    const Outcome adopt = Outcome::AdoptServer, rebase = Outcome::RebaseAndRetry,
                  manual = Outcome::ManualRequired, skipped = Outcome::Skipped;
    const QJsonObject merged { { "title", "local" } }; // title changed on both: LocalWins

    struct Row
    {
        const char *name;
        Policy policy;
        Record local;
        ServerState server;
        Outcome outcome;
        Record record;
    };
    // update/update, update/delete (local update, server delete), delete/update, delete/delete
    const Row rows[] = {
        { "ServerWins update/update", Policy::ServerWins, local, live, adopt, server },
        { "ServerWins update/delete: the delete is final", Policy::ServerWins, local, deleted,
          adopt, none },
        { "ServerWins delete/update: the row comes back", Policy::ServerWins, none, live, adopt,
          server },
        { "ClientWins update/update", Policy::ClientWins, local, live, rebase, local },
        { "ClientWins update/delete: recreated", Policy::ClientWins, local, deleted, rebase,
          local },
        { "ClientWins delete/update: removed again", Policy::ClientWins, none, live, rebase,
          none },
        { "FieldMerge update/update", Policy::FieldMerge, local, live, rebase, merged },
        { "FieldMerge update/delete: the delete is final", Policy::FieldMerge, local, deleted,
          adopt, none },
        { "FieldMerge delete/update: the server's edit stays", Policy::FieldMerge, none, live,
          adopt, server },
        { "Custom keeping local, update/update", Policy::Custom, local, live, rebase, local },
        { "Custom keeping local, delete/update", Policy::Custom, none, live, rebase, none },
        { "Manual update/update", Policy::Manual, local, live, manual, none },
        { "Manual update/delete", Policy::Manual, local, deleted, manual, none },
        { "Manual delete/update", Policy::Manual, none, live, manual, none },
    };
    for (const Row &row : rows) {
        QTest::newRow(row.name) << row.policy << false << row.local << row.server << false
                                << row.outcome << row.record;
    }
    const Policy all[] = { Policy::ServerWins, Policy::ClientWins, Policy::LastWriteWins,
                           Policy::FieldMerge, Policy::Custom, Policy::Manual };
    for (Policy policy : all) {
        const QByteArray n = QByteArray::number(int(policy));
        QTest::newRow("delete/delete: nothing to decide, policy " + n)
                << policy << false << none << deleted << true << adopt << none;
        QTest::newRow("no server data: skipped, policy " + n)
                << policy << false << Record(local) << unknown << true << skipped << Record(local);
        QTest::newRow("conflict-free: the server's stands, policy " + n)
                << policy << true << Record(local) << live << true << adopt << Record(server);
    }
    QTest::newRow("LastWriteWins, local later") << Policy::LastWriteWins << false << Record(local)
                                                << live << true << rebase << Record(local);
    QTest::newRow("LastWriteWins, server later") << Policy::LastWriteWins << false
                                                 << Record(local) << live << false << adopt
                                                 << Record(server);
    QTest::newRow("LastWriteWins, server's delete later")
            << Policy::LastWriteWins << false << Record(local) << deleted << false << adopt << none;
    QTest::newRow("LastWriteWins, local update after the delete")
            << Policy::LastWriteWins << false << Record(local) << deleted << true << rebase
            << Record(local);
    QTest::newRow("ClientWins, local equals the server's: adopted")
            << Policy::ClientWins << false << Record(server) << live << false << adopt
            << Record(server);
    QTest::newRow("FieldMerge, merge equals the server's: adopted")
            << Policy::FieldMerge << false << Record(base) << live << false << adopt
            << Record(server);
}

void tst_ConflictResolution::rebased_data()
{
    QTest::addColumn<Record>("record");
    QTest::addColumn<ServerState>("server");
    QTest::addColumn<bool>("sent");
    QTest::addColumn<MutationType>("type");
    QTest::addColumn<QJsonObject>("changes");
    QTest::addColumn<QJsonObject>("original");
    QTest::addColumn<QJsonObject>("modified");

    const QJsonObject s = record(R"({"id":"k","title":"Soy","done":true,"n":1})");
    const ServerState live = ServerState::live(s);
    const Record none;
    QTest::newRow("update: only the fields that differ")
            << Record(record(R"({"id":"k","title":"Oat","done":true})")) << live << true
            << MutationType::Update << record(R"({"title":"Oat"})") << s
            << record(R"({"id":"k","title":"Oat","done":true,"n":1})");
    QTest::newRow("update: a new field") << Record(record(R"({"id":"k","note":"x"})")) << live
                                         << true << MutationType::Update
                                         << record(R"({"note":"x"})") << s
                                         << record(R"({"id":"k","title":"Soy","done":true,)"
                                                   R"("n":1,"note":"x"})");
    QTest::newRow("the server's values already: nothing to send")
            << Record(s) << live << false << MutationType::Update << QJsonObject()
            << QJsonObject() << QJsonObject();
    QTest::newRow("removal on a live record") << none << live << true << MutationType::Remove
                                              << QJsonObject() << s << QJsonObject();
    QTest::newRow("record on a deleted one: created again")
            << Record(record(R"({"id":"k","title":"Oat"})")) << ServerState::deleted() << true
            << MutationType::Insert << record(R"({"id":"k","title":"Oat"})") << QJsonObject()
            << record(R"({"id":"k","title":"Oat"})");
    QTest::newRow("removal on a deleted one: nothing to send")
            << none << ServerState::deleted() << false << MutationType::Remove << QJsonObject()
            << QJsonObject() << QJsonObject();
    QTest::newRow("no server state: nothing to send")
            << Record(s) << ServerState() << false << MutationType::Update << QJsonObject()
            << QJsonObject() << QJsonObject();
}

void tst_ConflictResolution::rebased()
{
    QFETCH(Record, record);
    QFETCH(ServerState, server);
    QFETCH(bool, sent);
    QFETCH(MutationType, type);
    QFETCH(QJsonObject, changes);
    QFETCH(QJsonObject, original);
    QFETCH(QJsonObject, modified);

    MutationRecord m;
    m.id = QStringLiteral("m1");
    m.transactionId = QStringLiteral("t1");
    m.sequence = 2;
    m.collection = QStringLiteral("todos");
    m.key = QStringLiteral("k");
    m.type = MutationType::Update;
    m.baseVersion = 3;
    m.original = ::record(R"({"id":"k","title":"Milk"})");
    m.changes = ::record(R"({"title":"Oat"})");
    m.metadata = QJsonValue(QStringLiteral("meta"));
    const std::optional<MutationRecord> r = ConflictResolution::rebased(m, record, server, 9);
    QCOMPARE(r.has_value(), sent);
    if (!r)
        return;
    QCOMPARE(r->type, type);
    QCOMPARE(r->changes, changes);
    QCOMPARE(r->original, original);
    QCOMPARE(r->modified, modified);
    QCOMPARE(r->baseVersion, 9);
    // The same mutation: its id (the server stored nothing for it), place and metadata.
    QCOMPARE(r->id, m.id);
    QCOMPARE(r->transactionId, m.transactionId);
    QCOMPARE(r->sequence, m.sequence);
    QCOMPARE(r->key, m.key);
    QCOMPARE(r->metadata, m.metadata);
}

void tst_ConflictResolution::clientWinsMakesTheLocalChangeAgain_data()
{
    QTest::addColumn<Policy>("policy");
    QTest::newRow("ClientWins") << Policy::ClientWins;
    QTest::newRow("LastWriteWins, local later") << Policy::LastWriteWins;
}

void tst_ConflictResolution::clientWinsMakesTheLocalChangeAgain()
{
    // The local side changed the title, the server the title and done: the local change wins
    // where both changed; the server's other change stays (it is not overwritten by the
    // stale value the local record still had).
    QFETCH(Policy, policy);
    Conflict conflict;
    conflict.policy = policy;
    conflict.localIsLater = true;
    conflict.base = record(R"({"id":"k","title":"Milk","done":false})");
    conflict.local = record(R"({"id":"k","title":"Oat milk","done":false})");
    conflict.server = ServerState::live(record(R"({"id":"k","title":"Soy milk","done":true})"));
    const Resolution r = ConflictResolution::resolve(conflict);
    QCOMPARE(r.outcome, Outcome::RebaseAndRetry);
    QCOMPARE(r.record, Record(record(R"({"id":"k","title":"Oat milk","done":true})")));

    // Against a deletion, or for a change that created the record: the local record whole.
    conflict.server = ServerState::deleted();
    QCOMPARE(ConflictResolution::resolve(conflict).record, conflict.local);
    conflict.base.reset();
    conflict.server = ServerState::live(record(R"({"id":"k","title":"Soy milk","done":true})"));
    QCOMPARE(ConflictResolution::resolve(conflict).record, conflict.local);
}

void tst_ConflictResolution::resolve()
{
    QFETCH(Policy, policy);
    QFETCH(bool, conflictFree);
    QFETCH(Record, local);
    QFETCH(ServerState, server);
    QFETCH(bool, localIsLater);
    QFETCH(Outcome, outcome);
    QFETCH(Record, record);

    Conflict conflict;
    conflict.policy = policy;
    conflict.conflictFree = conflictFree;
    conflict.local = local;
    conflict.server = server;
    conflict.base = base;
    conflict.localIsLater = localIsLater;
    int resolverCalls = 0;
    if (policy == Policy::Custom) {
        // A resolver that keeps the local record: Custom then behaves as ClientWins.
        conflict.resolver = [&](const QJsonObject &l, const QJsonObject &, const QJsonObject &) {
            ++resolverCalls;
            return std::optional<QJsonObject>(l);
        };
    }
    const Resolution resolution = ConflictResolution::resolve(conflict);
    QCOMPARE(resolution.outcome, outcome);
    QCOMPARE(resolution.record, record);
    const Resolution again = ConflictResolution::resolve(conflict);
    QCOMPARE(again.outcome, resolution.outcome);
    QCOMPARE(again.record, resolution.record);
    // The resolver is asked only where there is something to decide.
    const bool decided = server.state == ServerState::Unknown || conflictFree
            || (!local && server.state == ServerState::Deleted);
    QCOMPARE(resolverCalls, policy == Policy::Custom && !decided ? 2 : 0);
}

void tst_ConflictResolution::customResolver()
{
    Conflict conflict;
    conflict.policy = Policy::Custom;
    conflict.local = local;
    conflict.server = ServerState::live(server);
    conflict.base = base;

    // No resolver set: the app has to decide.
    QCOMPARE(ConflictResolution::resolve(conflict).outcome, Outcome::ManualRequired);

    // It gets local, server and base, and what it returns is sent.
    QJsonObject seenLocal, seenServer, seenBase;
    const QJsonObject merged { { "title", "local and server" } };
    conflict.resolver = [&](const QJsonObject &l, const QJsonObject &sv, const QJsonObject &b) {
        seenLocal = l;
        seenServer = sv;
        seenBase = b;
        return std::optional<QJsonObject>(merged);
    };
    Resolution resolution = ConflictResolution::resolve(conflict);
    QCOMPARE(resolution.outcome, Outcome::RebaseAndRetry);
    QCOMPARE(resolution.record, Record(merged));
    QCOMPARE(seenLocal, local);
    QCOMPARE(seenServer, server);
    QCOMPARE(seenBase, base);

    // Returning the server's record adopts it.
    conflict.resolver = [](const QJsonObject &, const QJsonObject &sv, const QJsonObject &) {
        return std::optional<QJsonObject>(sv);
    };
    resolution = ConflictResolution::resolve(conflict);
    QCOMPARE(resolution.outcome, Outcome::AdoptServer);
    QCOMPARE(resolution.record, Record(server));

    // "Cannot decide" goes to the app.
    conflict.resolver = [](const QJsonObject &, const QJsonObject &, const QJsonObject &) {
        return std::optional<QJsonObject>();
    };
    resolution = ConflictResolution::resolve(conflict);
    QCOMPARE(resolution.outcome, Outcome::ManualRequired);
    QCOMPARE(resolution.record, Record());

    // A local removal reaches it as an empty local record; a server deletion as an empty one.
    conflict.local = std::nullopt;
    conflict.resolver = [&](const QJsonObject &l, const QJsonObject &sv, const QJsonObject &) {
        seenLocal = l;
        seenServer = sv;
        return std::optional<QJsonObject>(sv);
    };
    QCOMPARE(ConflictResolution::resolve(conflict).outcome, Outcome::AdoptServer);
    QCOMPARE(seenLocal, QJsonObject());
    conflict.local = local;
    conflict.server = ServerState::deleted();
    conflict.resolver = [&](const QJsonObject &l, const QJsonObject &sv, const QJsonObject &) {
        seenLocal = l;
        seenServer = sv;
        return std::optional<QJsonObject>(l);
    };
    resolution = ConflictResolution::resolve(conflict);
    QCOMPARE(seenServer, QJsonObject());
    QCOMPARE(resolution.outcome, Outcome::RebaseAndRetry); // recreated
    QCOMPARE(resolution.record, Record(local));
}

void tst_ConflictResolution::generatedMerges_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("two thousand conflicts from seed 1") << 1u;
    QTest::newRow("two thousand conflicts from seed 7") << 7u;
    QTest::newRow("two thousand conflicts from seed 20261203") << 20261203u;
}

void tst_ConflictResolution::generatedMerges()
{
    QFETCH(quint32, seed);
    QRandomGenerator random(seed);
    const QStringList names { QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"),
                              QStringLiteral("d") };
    const QList<QJsonValue> values {
        QJsonValue(QJsonValue::Undefined), QJsonValue(), QJsonValue(1), QJsonValue(2),
        QJsonValue(QStringLiteral("x")), QJsonValue(true), QJsonArray { 1 },
        QJsonArray { 1, 2 }, QJsonArray { 2, 3 }, QJsonArray {},
    };
    const FieldPolicy policies[] = { FieldPolicy::ServerWins, FieldPolicy::LocalWins,
                                     FieldPolicy::MergeArrays, FieldPolicy::Monotonic,
                                     FieldPolicy::ServerDerived };
    auto pick = [&] { return values.at(int(random.bounded(quint32(values.size())))); };
    auto derive = [&](const QJsonObject &from) {
        // A side changes each field with probability one half.
        QJsonObject to;
        for (const QString &name : names) {
            const QJsonValue v = random.bounded(2u) ? pick() : from.value(name);
            if (!v.isUndefined())
                to.insert(name, v);
        }
        return to;
    };

    for (int i = 0; i < 2000; ++i) {
        const QString context = QStringLiteral("seed %1, conflict %2").arg(seed).arg(i);
        QJsonObject base;
        for (const QString &name : names) {
            const QJsonValue v = pick();
            if (!v.isUndefined())
                base.insert(name, v);
        }
        const QJsonObject local = derive(base);
        const QJsonObject server = derive(base);
        FieldPolicies fp;
        for (const QString &name : names)
            fp.fields.insert(name, policies[random.bounded(5u)]);

        const QJsonObject merged = mergeFields(local, server, base, fp);
        const auto fail = [&](const char *what) {
            return qPrintable(QStringLiteral("%1: %2\n local %3\n server %4\n base %5\n merged %6")
                                      .arg(context, QString::fromUtf8(what),
                                           QString::fromUtf8(QJsonDocument(local).toJson(
                                                   QJsonDocument::Compact)),
                                           QString::fromUtf8(QJsonDocument(server).toJson(
                                                   QJsonDocument::Compact)),
                                           QString::fromUtf8(QJsonDocument(base).toJson(
                                                   QJsonDocument::Compact)),
                                           QString::fromUtf8(QJsonDocument(merged).toJson(
                                                   QJsonDocument::Compact))));
        };
        QVERIFY2(mergeFields(local, server, base, fp) == merged, fail("not deterministic"));
        QVERIFY2(mergeFields(local, merged, base, fp) == merged,
                 fail("merging again against the merge changes it"));
        QVERIFY2(mergeFields(merged, merged, base, fp) == merged,
                 fail("both sides equal does not give that record"));

        for (const QString &name : names) {
            const QJsonValue l = local.value(name), s = server.value(name), b = base.value(name),
                             m = merged.value(name);
            const FieldPolicy policy = fp.of(name);
            if (policy == FieldPolicy::ServerDerived) {
                QVERIFY2(m == s, fail("a server-derived field is not the server's"));
                continue;
            }
            if (policy == FieldPolicy::Monotonic) {
                QVERIFY2(m == l || m == s, fail("a monotonic field is neither side's"));
                const bool ordered = l.type() == s.type() && (l.isDouble() || l.isString()
                                                              || l.isBool());
                if (l.isUndefined() || s.isUndefined())
                    QVERIFY2(m == (l.isUndefined() ? s : l), fail("a monotonic field was lost"));
                else if (!ordered)
                    QVERIFY2(m == s, fail("values without an order do not take the server's"));
                else
                    QVERIFY2(ConflictResolution::larger(m, l) == m
                                     && ConflictResolution::larger(m, s) == m,
                             fail("a monotonic field went back"));
                continue;
            }
            if (l == b)
                QVERIFY2(m == s, fail("an untouched local field is not the server's"));
            else if (s == b)
                QVERIFY2(m == l, fail("a local change the server did not touch was lost"));
            else if (policy == FieldPolicy::LocalWins)
                QVERIFY2(m == l, fail("a LocalWins field lost the local change"));
            else if (policy == FieldPolicy::ServerWins)
                QVERIFY2(m == s, fail("a ServerWins field is not the server's"));
            else if (l.isArray() && s.isArray()) {
                const QJsonArray la = l.toArray(), sa = s.toArray(), ba = b.toArray(),
                                 ma = m.toArray();
                for (const QJsonValue &e : la) {
                    if (!ba.contains(e))
                        QVERIFY2(ma.contains(e), fail("an element added locally was lost"));
                }
                for (const QJsonValue &e : sa) {
                    if (!ba.contains(e))
                        QVERIFY2(ma.contains(e), fail("an element the server added was lost"));
                }
            } else {
                QVERIFY2(m == l, fail("MergeArrays without two arrays lost the local change"));
            }
        }
    }
}

QTEST_APPLESS_MAIN(tst_ConflictResolution)
#include "tst_conflictresolution.moc"
