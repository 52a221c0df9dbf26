// SPDX-License-Identifier: BSD-3-Clause
#include "pushrequest.h"

#include "protocolrules.h"

#include <QtCore/QHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QSet>

namespace Synq {
namespace Server {

namespace {

// 2^53: beyond it a JSON number no longer holds every integer.
constexpr double MaxSafeInteger = 9007199254740992.0;

// Keys and ids are stored and compared as text: no NUL (PostgreSQL text cannot hold it) and no
// lone surrogate (it would not survive the UTF-8 round trip).
bool isCleanText(const QString &text)
{
    return text.isValidUtf16() && !text.contains(QChar(0));
}

class Decoder
{
public:
    explicit Decoder(DecodeFailure *failure) : m_failure(failure) { }

    bool fail(const QString &path, const QString &problem, int status = 400)
    {
        m_failure->status = status;
        m_failure->message = path.isEmpty() ? problem : path + QStringLiteral(": ") + problem;
        return false;
    }

    // A required string of 1 to maxLength UTF-16 units.
    bool string(const QJsonObject &object, const QString &path, const char *field,
                qsizetype maxLength, QString *out)
    {
        const QString name = QLatin1String(field);
        const QString where = path.isEmpty() ? name : path + QLatin1Char('.') + name;
        const QJsonValue value = object.value(name);
        if (value.isUndefined())
            return fail(where, QStringLiteral("missing"));
        if (!value.isString())
            return fail(where, QStringLiteral("not a string"));
        const QString text = value.toString();
        if (text.isEmpty() || text.size() > maxLength)
            return fail(where, QStringLiteral("must be 1 to %1 characters").arg(maxLength));
        if (!isCleanText(text))
            return fail(where, QStringLiteral("contains NUL or invalid UTF-16"));
        *out = text;
        return true;
    }

private:
    DecodeFailure *m_failure;
};

} // namespace

bool decodePushRequest(const QByteArray &body, PushRequest *request, DecodeFailure *failure)
{
    Decoder d(failure);
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        return d.fail(QStringLiteral("body"),
                      QStringLiteral("not valid JSON (%1 at offset %2)")
                              .arg(parseError.errorString())
                              .arg(parseError.offset));
    if (!doc.isObject())
        return d.fail(QStringLiteral("body"), QStringLiteral("not a JSON object"));
    const QJsonObject root = doc.object();

    PushRequest result;
    const QJsonValue client = root.value(QLatin1String("client"));
    if (!client.isUndefined() && !client.isNull()) {
        if (!d.string(root, QString(), "client", MaxIdLength, &result.client))
            return false;
    }
    if (!d.string(root, QString(), "batch", MaxIdLength, &result.batch))
        return false;

    const QJsonValue mutations = root.value(QLatin1String("mutations"));
    if (mutations.isUndefined())
        return d.fail(QStringLiteral("mutations"), QStringLiteral("missing"));
    if (!mutations.isArray())
        return d.fail(QStringLiteral("mutations"), QStringLiteral("not an array"));
    const QJsonArray array = mutations.toArray();
    if (array.isEmpty())
        return d.fail(QStringLiteral("mutations"),
                      QStringLiteral("empty (1 to %1 items)").arg(MaxMutationsPerPush));
    if (array.size() > MaxMutationsPerPush)
        return d.fail(QStringLiteral("mutations"),
                      QStringLiteral("%1 items, at most %2 per push: split the batch")
                              .arg(array.size())
                              .arg(MaxMutationsPerPush),
                      413);

    QHash<QString, qsizetype> ids; // mutation id -> index
    QSet<QString> closedTransactions;
    result.mutations.reserve(array.size());
    for (qsizetype i = 0; i < array.size(); ++i) {
        const QString path = QStringLiteral("mutations[%1]").arg(i);
        if (!array.at(i).isObject())
            return d.fail(path, QStringLiteral("not an object"));
        const QJsonObject o = array.at(i).toObject();
        PushMutation m;
        if (!d.string(o, path, "id", MaxIdLength, &m.id)
            || !d.string(o, path, "tx", MaxIdLength, &m.tx))
            return false;
        if (ids.contains(m.id))
            return d.fail(path + QStringLiteral(".id"),
                          QStringLiteral("the same id as mutations[%1]").arg(ids.value(m.id)));
        ids.insert(m.id, i);
        // Mutations of one transaction are adjacent: a tx seen before must be the previous one.
        if (!result.mutations.isEmpty() && result.mutations.constLast().tx != m.tx) {
            closedTransactions.insert(result.mutations.constLast().tx);
            if (closedTransactions.contains(m.tx))
                return d.fail(path + QStringLiteral(".tx"),
                              QStringLiteral("transaction %1 is not adjacent: its mutations must "
                                             "follow each other")
                                      .arg(m.tx));
        }

        const QJsonValue collection = o.value(QLatin1String("collection"));
        if (collection.isUndefined())
            return d.fail(path + QStringLiteral(".collection"), QStringLiteral("missing"));
        if (!collection.isString())
            return d.fail(path + QStringLiteral(".collection"), QStringLiteral("not a string"));
        if (!isIdentifier(collection.toString()))
            return d.fail(path + QStringLiteral(".collection"),
                          QStringLiteral("not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 "
                                         "characters, not starting with sqlite_)"));
        m.collection = collection.toString();

        const QJsonValue op = o.value(QLatin1String("op"));
        if (op == QJsonValue(QStringLiteral("insert")))
            m.op = PushMutation::Insert;
        else if (op == QJsonValue(QStringLiteral("update")))
            m.op = PushMutation::Update;
        else if (op == QJsonValue(QStringLiteral("remove")))
            m.op = PushMutation::Remove;
        else if (op.isUndefined())
            return d.fail(path + QStringLiteral(".op"), QStringLiteral("missing"));
        else
            return d.fail(path + QStringLiteral(".op"),
                          QStringLiteral("must be \"insert\", \"update\" or \"remove\""));

        if (!d.string(o, path, "key", MaxKeyLength, &m.key))
            return false;

        const QJsonValue base = o.value(QLatin1String("baseVersion"));
        if (base.isUndefined())
            return d.fail(path + QStringLiteral(".baseVersion"),
                          QStringLiteral("missing (an integer >= 0, or null)"));
        if (!base.isNull()) {
            const double value = base.toDouble(-1);
            if (!base.isDouble() || value < 0 || value >= MaxSafeInteger
                || value != double(base.toInteger()))
                return d.fail(path + QStringLiteral(".baseVersion"),
                              QStringLiteral("not an integer >= 0, or null"));
            m.baseVersion = base.toInteger();
        }

        if (m.op == PushMutation::Insert) {
            const QJsonValue data = o.value(QLatin1String("data"));
            if (!data.isObject())
                return d.fail(path + QStringLiteral(".data"),
                              data.isUndefined() ? QStringLiteral("missing (an insert needs the "
                                                                  "record)")
                                                 : QStringLiteral("not an object"));
            m.data = data.toObject();
        } else if (m.op == PushMutation::Update) {
            const QJsonValue changes = o.value(QLatin1String("changes"));
            if (!changes.isObject())
                return d.fail(path + QStringLiteral(".changes"),
                              changes.isUndefined() ? QStringLiteral("missing (an update needs "
                                                                     "the fields to set)")
                                                    : QStringLiteral("not an object"));
            m.data = changes.toObject();
            if (m.data.isEmpty())
                return d.fail(path + QStringLiteral(".changes"), QStringLiteral("empty"));
        }
        result.mutations.append(std::move(m));
    }
    *request = std::move(result);
    return true;
}

} // namespace Server
} // namespace Synq
