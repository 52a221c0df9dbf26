// SPDX-License-Identifier: BSD-3-Clause
// Synq::ConflictResolution: the three-way field merge and what each policy makes of a push
// conflict, as tables; and generated conflicts checking that a merge is deterministic,
// idempotent and never drops a local change its policies keep, and that resolve() gives each
// policy's recorded outcome (PropertySeed: SYNQ_PROPERTY_SEED repeats a failure).

#include <synq/conflictresolution.h>
#include <synq/pushrules.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QRandomGenerator>
#include <QtTest/QTest>

#include "propertyseed.h"
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

QString json(const Record &record)
{
    return record ? QString::fromUtf8(QJsonDocument(*record).toJson(QJsonDocument::Compact))
                  : QStringLiteral("(none)");
}

// The custom resolvers generated conflicts use: each a pure function of its arguments.
enum class ResolverKind { None, KeepLocal, KeepServer, MergeLocalWins, CannotDecide, Empty };

Resolver resolverOf(ResolverKind kind)
{
    switch (kind) {
    case ResolverKind::None:
        break;
    case ResolverKind::KeepLocal:
        return [](const QJsonObject &l, const QJsonObject &, const QJsonObject &) {
            return std::optional<QJsonObject>(l);
        };
    case ResolverKind::KeepServer:
        return [](const QJsonObject &, const QJsonObject &s, const QJsonObject &) {
            return std::optional<QJsonObject>(s);
        };
    case ResolverKind::MergeLocalWins:
        return [](const QJsonObject &l, const QJsonObject &s, const QJsonObject &b) {
            return std::optional<QJsonObject>(mergeFields(l, s, b, FieldPolicies()));
        };
    case ResolverKind::CannotDecide:
        return [](const QJsonObject &, const QJsonObject &, const QJsonObject &) {
            return std::optional<QJsonObject>();
        };
    case ResolverKind::Empty:
        return [](const QJsonObject &, const QJsonObject &, const QJsonObject &) {
            return std::optional<QJsonObject>(QJsonObject());
        };
    }
    return Resolver();
}

/*
    What resolve() must give, written from conflictresolution.h and docs/conflicts.md: no
    usable server answer skips (the local change is kept as a dead letter); a removal on both
    sides and a conflict-free collection adopt the server's; then the policy. A record to send
    that is the server's already is adopted instead.
*/
Resolution expectedResolution(const Conflict &c)
{
    const bool live = c.server.state == ServerState::Live;
    const auto adopt = [&] {
        return Resolution { Outcome::AdoptServer, live ? Record(c.server.record) : Record() };
    };
    const auto sendOrAdopt = [&](const Record &record) {
        if (record && live && *record == c.server.record)
            return adopt();
        return Resolution { Outcome::RebaseAndRetry, record };
    };
    // The local change made again on the server's record: the fields the local side changed
    // since base take its values, the others the server's.
    const auto localChangeOn = [&]() -> Record {
        if (!c.local || !c.base || !live)
            return c.local;
        QJsonObject out;
        QStringList fields = c.local->keys() + c.server.record.keys() + c.base->keys();
        for (const QString &f : std::as_const(fields)) {
            const QJsonValue l = c.local->value(f);
            const QJsonValue v = l == c.base->value(f) ? c.server.record.value(f) : l;
            if (!v.isUndefined())
                out.insert(f, v);
        }
        return out;
    };

    if (c.server.state == ServerState::Unknown)
        return { Outcome::Skipped, c.local };
    if (!c.local && c.server.state == ServerState::Deleted)
        return adopt();
    if (c.conflictFree)
        return adopt();
    switch (c.policy) {
    case Policy::ServerWins:
        return adopt();
    case Policy::Manual:
        return { Outcome::ManualRequired, std::nullopt };
    case Policy::LastWriteWins:
        return c.localIsLater ? sendOrAdopt(localChangeOn()) : adopt();
    case Policy::ClientWins:
        return sendOrAdopt(localChangeOn());
    case Policy::FieldMerge:
        if (!c.local || !live)
            return adopt();
        return sendOrAdopt(mergeFields(*c.local, c.server.record, c.base.value_or(QJsonObject()),
                                       c.fieldPolicies));
    case Policy::Custom: {
        if (!c.resolver)
            return { Outcome::ManualRequired, std::nullopt };
        const Record merged = c.resolver(c.local.value_or(QJsonObject()), c.server.record,
                                         c.base.value_or(QJsonObject()));
        if (!merged)
            return { Outcome::ManualRequired, std::nullopt };
        return sendOrAdopt(merged->isEmpty() ? Record() : merged);
    }
    }
    return {};
}

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
    void generatedResolutions_data();
    void generatedResolutions();
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

void tst_ConflictResolution::generatedResolutions_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("500 conflicts from seed 5") << 5u;
    QTest::newRow("500 conflicts from seed 20261206") << 20261206u;
}

void tst_ConflictResolution::generatedResolutions()
{
    QFETCH(quint32, seed);
    seed = PropertySeed::seed(seed);
    const QStringList names { QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"),
                              QStringLiteral("d") };
    const QList<QJsonValue> values {
        QJsonValue(QJsonValue::Undefined), QJsonValue(), QJsonValue(1), QJsonValue(2),
        QJsonValue(QStringLiteral("x")), QJsonValue(true), QJsonArray { 1 },
        QJsonArray { 1, 2 }, QJsonArray { 2, 3 }, QJsonArray {},
    };
    // FieldMerge and LocalWins twice: the checks of kept local changes need them most.
    const Policy policies[] = { Policy::ServerWins, Policy::ClientWins, Policy::LastWriteWins,
                                Policy::FieldMerge, Policy::FieldMerge, Policy::Custom,
                                Policy::Manual };
    const FieldPolicy fieldPolicies[] = { FieldPolicy::ServerWins, FieldPolicy::LocalWins,
                                          FieldPolicy::LocalWins, FieldPolicy::MergeArrays,
                                          FieldPolicy::Monotonic, FieldPolicy::ServerDerived };
    QHash<Outcome, int> outcomes;
    int localWinsKept = 0;
    int resentAndStable = 0;
    int unsendable = 0; // RebaseAndRetry of a record that only lacks some of the server's fields

    for (int i = 0; i < PropertySeed::Cases; ++i) {
        QRandomGenerator random = PropertySeed::generator(seed, i);
        const auto pick = [&] { return values.at(int(random.bounded(quint32(values.size())))); };
        const auto derive = [&](const QJsonObject &from) {
            QJsonObject to;
            for (const QString &name : names) {
                const QJsonValue v = random.bounded(2u) ? pick() : from.value(name);
                if (!v.isUndefined())
                    to.insert(name, v);
            }
            return to;
        };

        QJsonObject baseRecord;
        for (const QString &name : names) {
            if (const QJsonValue v = pick(); !v.isUndefined())
                baseRecord.insert(name, v);
        }
        Conflict conflict;
        conflict.policy = policies[random.bounded(7u)];
        conflict.conflictFree = random.bounded(8u) == 0;
        if (random.bounded(5u) != 0)
            conflict.base = baseRecord; // else the local change created the record
        if (random.bounded(5u) != 0)
            conflict.local = derive(baseRecord); // else it removes the record
        switch (random.bounded(10u)) {
        case 0:
            break; // Unknown
        case 1:
        case 2:
            conflict.server = ServerState::deleted();
            break;
        default:
            conflict.server = ServerState::live(derive(baseRecord));
            break;
        }
        for (const QString &name : names) {
            if (random.bounded(5u) != 0)
                conflict.fieldPolicies.fields.insert(name, fieldPolicies[random.bounded(6u)]);
        }
        conflict.fieldPolicies.fallback = fieldPolicies[random.bounded(6u)];
        conflict.localIsLater = random.bounded(2u) == 1;
        const ResolverKind resolverKind = ResolverKind(random.bounded(6u));
        conflict.resolver = resolverOf(resolverKind);

        const Resolution r = ConflictResolution::resolve(conflict);
        const auto context = [&](const QString &what) {
            return QStringLiteral("%1: %2\n policy %3%4, resolver %5, localIsLater %6\n local %7\n "
                                  "server %8 %9\n base %10\n outcome %11 %12")
                    .arg(PropertySeed::context(seed, i), what)
                    .arg(int(conflict.policy))
                    .arg(conflict.conflictFree ? QStringLiteral(" (conflict-free)") : QString())
                    .arg(int(resolverKind))
                    .arg(conflict.localIsLater)
                    .arg(json(conflict.local))
                    .arg(int(conflict.server.state))
                    .arg(json(Record(conflict.server.record)))
                    .arg(json(conflict.base), nameOf(r.outcome), json(r.record));
        };

        // Deterministic: the same conflict, resolved again or as a copy, resolves the same.
        const Conflict copy = conflict;
        for (const Resolution &again : { ConflictResolution::resolve(conflict),
                                         ConflictResolution::resolve(copy) }) {
            QVERIFY2(again.outcome == r.outcome && again.record == r.record,
                     qPrintable(context(QStringLiteral("resolved again: %1 %2")
                                                .arg(nameOf(again.outcome), json(again.record)))));
        }

        // Every outcome is a recorded one, the one the policy gives: a local change is sent,
        // or the outcome says why not (the server's adopted, the app asked, or kept unsent).
        QVERIFY2(r.outcome != Outcome::None && !nameOf(r.outcome).isEmpty(),
                 qPrintable(context(QStringLiteral("no outcome"))));
        ++outcomes[r.outcome];
        const Resolution expected = expectedResolution(conflict);
        QVERIFY2(r.outcome == expected.outcome && r.record == expected.record,
                 qPrintable(context(QStringLiteral("expected %1 %2")
                                            .arg(nameOf(expected.outcome),
                                                 json(expected.record)))));
        const bool live = conflict.server.state == ServerState::Live;
        switch (r.outcome) {
        case Outcome::AdoptServer:
            QVERIFY2(r.record == (live ? Record(conflict.server.record) : Record()),
                     qPrintable(context(QStringLiteral("adopts what the server does not hold"))));
            break;
        case Outcome::RebaseAndRetry:
            QVERIFY2(!(live && r.record == Record(conflict.server.record)),
                     qPrintable(context(QStringLiteral("sends what the server holds already"))));
            break;
        case Outcome::ManualRequired:
            QVERIFY2(!r.record, qPrintable(context(QStringLiteral("decides a manual conflict"))));
            break;
        case Outcome::Skipped:
            QVERIFY2(r.record == conflict.local,
                     qPrintable(context(QStringLiteral("skips without keeping the local change"))));
            break;
        case Outcome::None:
            break;
        }

        // FieldMerge keeps every local change of a LocalWins field.
        if (conflict.policy == Policy::FieldMerge && !conflict.conflictFree && conflict.local
            && live) {
            QVERIFY2(r.outcome == Outcome::RebaseAndRetry || r.outcome == Outcome::AdoptServer,
                     qPrintable(context(QStringLiteral("a field merge that merges nothing"))));
            const QJsonObject b = conflict.base.value_or(QJsonObject());
            for (const QString &name : names) {
                const QJsonValue l = conflict.local->value(name);
                if (conflict.fieldPolicies.of(name) != FieldPolicy::LocalWins || l == b.value(name))
                    continue;
                QVERIFY2(r.record && r.record->value(name) == l,
                         qPrintable(context(QStringLiteral("the local change of %1 is lost")
                                                    .arg(name))));
                ++localWinsKept;
            }
        }

        // Resolving the result against itself (as the local and the server record) changes
        // nothing: the record stands, adopted, under every policy that merges.
        if (r.record && conflict.policy != Policy::Manual
            && !(conflict.policy == Policy::Custom
                 && (resolverKind == ResolverKind::None || resolverKind == ResolverKind::Empty
                     || resolverKind == ResolverKind::CannotDecide))) {
            Conflict again = conflict;
            again.local = r.record;
            again.server = ServerState::live(*r.record);
            again.localIsLater = true;
            const Resolution settled = ConflictResolution::resolve(again);
            QVERIFY2(settled.outcome == Outcome::AdoptServer && settled.record == r.record,
                     qPrintable(context(QStringLiteral("resolved against itself: %1 %2")
                                                .arg(nameOf(settled.outcome),
                                                     json(settled.record)))));
            if (conflict.policy == Policy::FieldMerge) {
                QVERIFY2(mergeFields(*r.record, *r.record, conflict.base.value_or(QJsonObject()),
                                     conflict.fieldPolicies)
                                 == *r.record,
                         qPrintable(context(QStringLiteral("merged with itself changes"))));
            }
        }

        // What is sent again makes the server hold the record (rebased()): the fields it
        // sets, the server's others; or its removal. Nothing is sent only when the record
        // holds the server's values already but lacks some of its fields (an update cannot
        // remove a field), or removes what the server deleted (a Custom resolver handing back
        // an empty record): the engine then records AdoptServer (PushRunner::settleConflict).
        if (r.outcome == Outcome::RebaseAndRetry) {
            MutationRecord m;
            m.id = QStringLiteral("m%1").arg(i);
            m.transactionId = QStringLiteral("t%1").arg(i);
            m.collection = QStringLiteral("todos");
            m.key = QStringLiteral("k");
            m.type = conflict.local ? MutationType::Update : MutationType::Remove;
            m.baseVersion = 3;
            const PushRules::RecordState state = live
                    ? PushRules::RecordState::live(7, conflict.server.record)
                    : PushRules::RecordState::removed(7);
            const std::optional<MutationRecord> sent =
                    ConflictResolution::rebased(m, r.record, conflict.server, 7);
            if (!sent) {
                bool held = live ? r.record.has_value() : !r.record.has_value();
                for (auto it = r.record->constBegin(); live && held && it != r.record->constEnd();
                     ++it) {
                    held = conflict.server.record.value(it.key()) == it.value();
                }
                QVERIFY2(held, qPrintable(context(QStringLiteral("nothing to send"))));
                ++unsendable;
            } else {
                QVERIFY2(sent->id == m.id && sent->baseVersion == 7,
                         qPrintable(context(QStringLiteral("rebased on another version"))));
                QVERIFY2(PushRules::verdict(sent->type, state, sent->baseVersion)
                                 == PushRules::Verdict::Apply,
                         qPrintable(context(QStringLiteral("the rebased %1 conflicts again")
                                                    .arg(nameOf(sent->type)))));
                const std::optional<QJsonObject> written = PushRules::written(
                        sent->type, state,
                        sent->type == MutationType::Insert ? sent->modified : sent->changes);
                QJsonObject expectedRecord;
                if (r.record) {
                    expectedRecord = live ? PushRules::applyChanges(conflict.server.record,
                                                                    *r.record)
                                          : *r.record;
                }
                QVERIFY2(written.has_value() == r.record.has_value()
                                 && (!written || *written == expectedRecord),
                         qPrintable(context(QStringLiteral("sending it writes %1")
                                                    .arg(json(written)))));
                ++resentAndStable;
            }
        }
    }
    // The generator reaches every outcome and the checks above.
    const QString counts = QStringLiteral("adopt %1, rebase %2, manual %3, skipped %4, "
                                          "LocalWins kept %5, resent %6")
                                   .arg(outcomes.value(Outcome::AdoptServer))
                                   .arg(outcomes.value(Outcome::RebaseAndRetry))
                                   .arg(outcomes.value(Outcome::ManualRequired))
                                   .arg(outcomes.value(Outcome::Skipped))
                                   .arg(localWinsKept)
                                   .arg(resentAndStable);
    for (int n : { outcomes.value(Outcome::AdoptServer), outcomes.value(Outcome::RebaseAndRetry),
                   outcomes.value(Outcome::ManualRequired), outcomes.value(Outcome::Skipped),
                   localWinsKept, resentAndStable }) {
        QVERIFY2(n > PropertySeed::Cases / 50, qPrintable(counts));
    }
}

QTEST_APPLESS_MAIN(tst_ConflictResolution)
#include "tst_conflictresolution.moc"
