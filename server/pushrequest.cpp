// SPDX-License-Identifier: BSD-3-Clause
#include "pushrequest.h"

#include "protocolrules.h"

#include <synq/pushrules.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>

namespace Synq {
namespace Server {

namespace {

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
    bool fail(const PushRules::Problem &problem)
    {
        return fail(problem.field, problem.text, problem.httpStatus);
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
        if (const std::optional<QString> problem = PushRules::checkText(text, maxLength))
            return fail(where, *problem);
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
    if (const std::optional<PushRules::Problem> problem =
                PushRules::checkMutationCount(array.size()))
        return d.fail(*problem);

    PushRules::BatchShape shape;
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
        if (const std::optional<PushRules::Problem> problem = shape.add(i, m.id, m.tx))
            return d.fail(*problem);

        const QJsonValue collection = o.value(QLatin1String("collection"));
        if (collection.isUndefined())
            return d.fail(path + QStringLiteral(".collection"), QStringLiteral("missing"));
        if (!collection.isString())
            return d.fail(path + QStringLiteral(".collection"), QStringLiteral("not a string"));
        m.collection = collection.toString();
        if (const std::optional<QString> problem = PushRules::checkCollection(m.collection))
            return d.fail(path + QStringLiteral(".collection"), *problem);

        const QJsonValue op = o.value(QLatin1String("op"));
        if (op == QJsonValue(QStringLiteral("insert")))
            m.op = MutationType::Insert;
        else if (op == QJsonValue(QStringLiteral("update")))
            m.op = MutationType::Update;
        else if (op == QJsonValue(QStringLiteral("remove")))
            m.op = MutationType::Remove;
        else if (op.isUndefined())
            return d.fail(path + QStringLiteral(".op"), QStringLiteral("missing"));
        else
            return d.fail(path + QStringLiteral(".op"),
                          QStringLiteral("must be \"insert\", \"update\" or \"remove\""));

        if (!d.string(o, path, "key", MaxKeyLength, &m.key))
            return false;

        const QJsonValue base = o.value(QLatin1String("baseVersion"));
        if (const std::optional<QString> problem = PushRules::checkBaseVersion(base))
            return d.fail(path + QStringLiteral(".baseVersion"), *problem);
        m.baseVersion = base.isNull() ? std::nullopt : std::optional<qint64>(base.toInteger());

        if (m.op == MutationType::Insert) {
            const QJsonValue data = o.value(QLatin1String("data"));
            if (!data.isObject())
                return d.fail(path + QStringLiteral(".data"),
                              data.isUndefined() ? QStringLiteral("missing (an insert needs the "
                                                                  "record)")
                                                 : QStringLiteral("not an object"));
            m.data = data.toObject();
        } else if (m.op == MutationType::Update) {
            const QJsonValue changes = o.value(QLatin1String("changes"));
            if (!changes.isObject())
                return d.fail(path + QStringLiteral(".changes"),
                              changes.isUndefined() ? QStringLiteral("missing (an update needs "
                                                                     "the fields to set)")
                                                    : QStringLiteral("not an object"));
            m.data = changes.toObject();
            if (const std::optional<QString> problem = PushRules::checkChanges(m.data))
                return d.fail(path + QStringLiteral(".changes"), *problem);
        }

        // Optional: a mutation of an older client carries no stamp.
        const QJsonValue hlc = o.value(QLatin1String("hlc"));
        if (!hlc.isUndefined() && !hlc.isNull()) {
            if (!hlc.isString())
                return d.fail(path + QStringLiteral(".hlc"), QStringLiteral("not a string"));
            if (const std::optional<QString> problem = Protocol::checkHlc(hlc.toString()))
                return d.fail(path + QStringLiteral(".hlc"), *problem);
            m.hlc = hlc.toString();
        }

        // Optional, any JSON value, bounded by the body's size like data and changes. The
        // server passes it to nobody yet: it is for custom backends and logs.
        const QJsonValue metadata = o.value(QLatin1String("metadata"));
        if (!metadata.isUndefined() && !metadata.isNull())
            m.metadata = metadata;
        result.mutations.append(std::move(m));
    }
    *request = std::move(result);
    return true;
}

} // namespace Server
} // namespace Synq
